//! The `imopenlines` scope: typed requests, curated models and handles.
//!
//! [`OpenLineConfig`] (`imopenlines.config.*`), [`Dialog`] (`imopenlines.dialog.get`) and
//! [`Session`] (`imopenlines.session.history.get`; `imopenlines.session.open` returns a
//! [`SessionChat`]).

mod config;
mod dialog;
mod session;

pub use config::{OpenLineConfig, QueueUser};
pub use dialog::Dialog;
pub use session::{HistoryMessage, Session, SessionChat};

pub use crate::handles::imopenlines::ImOpenLines;
