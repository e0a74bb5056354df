//! Everything the portal stores, in memory, one struct per module.

use serde::{Deserialize, Serialize};

use super::{crm, disk, event, im, imopenlines, tasks, user};

/// The portal's data. Locked for the duration of each call, so calls are atomic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct State {
    pub(crate) users: user::UserState,
    pub(crate) crm: crm::CrmState,
    pub(crate) tasks: tasks::TasksState,
    pub(crate) disk: disk::DiskState,
    pub(crate) im: im::ImState,
    pub(crate) events: event::EventState,
    pub(crate) openlines: imopenlines::OpenLinesState,
}
