//! The `tasks` scope: typed requests, curated models and handles.
//!
//! Models of `tasks.task.*` (camelCase replies, with [`TaskStatus`] and [`TaskPriority`]) and
//! of task comments (`task.commentitem.*`), plus [`TaskFields`] for creating and updating.

mod comment;
mod input;
mod task;

pub use comment::{TaskComment, TaskCommentFile};
pub use input::TaskFields;
pub use task::{Task, TaskEnvelope, TaskMember, TaskPriority, TaskStatus, TasksPage};

pub use crate::handles::tasks::{TaskComments, Tasks};
