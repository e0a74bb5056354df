//! The `imconnector` scope: typed requests, curated models and handles.
//!
//! [`SendMessagesResult`] is the per-message reply of `imconnector.send.messages` and its
//! siblings; [`ConnectorStatus`] the reply of `imconnector.status`.

mod model;

pub use model::{
    ConnectorSession, ConnectorStatus, MessageOutcome, SendMessagesData, SendMessagesResult,
};

pub use crate::handles::imconnector::ImConnector;
