//! The sandbox portal, end to end, through the SDK client (feature `sandbox`).
#![cfg(feature = "sandbox")]
#![allow(
    clippy::unwrap_used,
    clippy::needless_pass_by_value,
    clippy::doc_markdown,
    clippy::too_many_lines
)]

#[path = "sandbox/support.rs"]
mod support;

#[path = "sandbox/batch_list.rs"]
mod batch_list;
#[path = "sandbox/conformance.rs"]
mod conformance;
#[path = "sandbox/core.rs"]
mod core;
#[path = "sandbox/handles.rs"]
mod handles;

#[path = "sandbox/crm.rs"]
mod crm;
#[path = "sandbox/prepare_crm.rs"]
mod prepare_crm;

#[path = "sandbox/prepare_tasks_disk_user.rs"]
mod prepare_tasks_disk_user;
#[path = "sandbox/tasks_disk_user.rs"]
mod tasks_disk_user;

#[path = "sandbox/events_openlines.rs"]
mod events_openlines;
#[path = "sandbox/prepare_events_openlines.rs"]
mod prepare_events_openlines;
