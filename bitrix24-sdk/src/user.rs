//! The `user` scope: typed requests, curated models and handles.
//!
//! [`User`] is the row of `user.get`, `user.search` and `user.current`.

mod model;

pub use model::{User, UserType};

pub use crate::handles::users::Users;
