//! `client.tasks()`.

use super::crm::to_i64;
use crate::client::Client;
use crate::method::Call;
use crate::methods::{task as old, tasks as m};

/// The `task` scope (`client.tasks()`): `tasks.task.*` and the task comments.
#[derive(Debug, Clone, Copy)]
pub struct Tasks<'a> {
    client: &'a Client,
}

macro_rules! transition {
    ($name:ident, $method:ident, $rest:literal, $doc:literal) => {
        #[doc = concat!("`tasks.task.", $rest, "`: ", $doc)]
        pub fn $name(&self, id: u64) -> Call<m::task::$method> {
            self.client.call(m::task::$method::new(to_i64(id)))
        }
    };
}

impl<'a> Tasks<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// `tasks.task.add`: `TITLE` and `RESPONSIBLE_ID` are required.
    pub fn add(&self, fields: impl Into<crate::tasks::TaskFields>) -> Call<m::task::Add> {
        self.client.call(m::task::Add::new(fields))
    }

    /// `tasks.task.get`: one task (camelCase fields); select `UF_CRM_TASK` or
    /// `UF_TASK_WEBDAV_FILES` with [`Call::with`] to get the bindings and files.
    pub fn get(&self, id: u64) -> Call<m::task::Get> {
        self.client.call(m::task::Get::new().task_id(to_i64(id)))
    }

    /// `tasks.task.list`: newest first by default; rows under `tasks`.
    pub fn list(&self) -> Call<m::task::List> {
        self.client.call(m::task::List::new())
    }

    /// `tasks.task.update`.
    pub fn update(
        &self,
        id: u64,
        fields: impl Into<crate::tasks::TaskFields>,
    ) -> Call<m::task::Update> {
        self.client.call(m::task::Update::new(to_i64(id), fields))
    }

    /// `tasks.task.delete`.
    pub fn delete(&self, id: u64) -> Call<m::task::Delete> {
        self.client.call(m::task::Delete::new(to_i64(id)))
    }

    transition!(start, Start, "start", "in progress (status 3).");
    transition!(pause, Pause, "pause", "back to pending (status 2).");
    transition!(
        complete,
        Complete,
        "complete",
        "completed (status 5), or awaiting control (4)."
    );
    transition!(defer, Defer, "defer", "deferred (status 6).");
    transition!(renew, Renew, "renew", "reopened (status 2).");
    transition!(
        approve,
        Approve,
        "approve",
        "the creator accepts the result (status 5)."
    );
    transition!(
        disapprove,
        Disapprove,
        "disapprove",
        "the creator sends it back (status 2)."
    );

    /// `tasks.task.delegate`: a new responsible person.
    pub fn delegate(&self, id: u64, user_id: u64) -> Call<m::task::Delegate> {
        self.client
            .call(m::task::Delegate::new(to_i64(id), to_i64(user_id)))
    }

    /// Comments of one task (`task.commentitem.*`).
    pub fn comments(&self, task_id: u64) -> TaskComments<'a> {
        TaskComments {
            client: self.client,
            task_id,
        }
    }
}

/// `task.commentitem.*` of one task.
#[derive(Debug, Clone, Copy)]
pub struct TaskComments<'a> {
    client: &'a Client,
    task_id: u64,
}

impl TaskComments<'_> {
    /// `task.commentitem.add`: a comment, optionally with Disk files
    /// ([`DiskAttachment`](crate::files::DiskAttachment) values, `"n123"`).
    pub fn add(
        &self,
        text: &str,
        files: Vec<crate::files::DiskAttachment>,
    ) -> Call<old::commentitem::Add> {
        let mut fields = serde_json::json!({ "POST_MESSAGE": text });
        if !files.is_empty()
            && let serde_json::Value::Object(map) = &mut fields
        {
            map.insert(
                "UF_FORUM_MESSAGE_DOC".into(),
                serde_json::to_value(files).unwrap_or_default(),
            );
        }
        self.client
            .call(old::commentitem::Add::new(to_i64(self.task_id), fields))
    }

    /// `task.commentitem.getlist`.
    pub fn list(&self) -> Call<old::commentitem::Getlist> {
        self.client
            .call(old::commentitem::Getlist::new(to_i64(self.task_id)))
    }

    /// `task.commentitem.get`.
    pub fn get(&self, id: u64) -> Call<old::commentitem::Get> {
        self.client
            .call(old::commentitem::Get::new(to_i64(self.task_id), to_i64(id)))
    }

    /// `task.commentitem.delete`.
    pub fn delete(&self, id: u64) -> Call<old::commentitem::Delete> {
        self.client.call(old::commentitem::Delete::new(
            to_i64(self.task_id),
            to_i64(id),
        ))
    }
}
