//! Handles: the methods of a scope grouped the way the documentation groups them, so calls
//! read like the docs: `client.crm().leads().add(fields)`, `client.tasks().complete(id)`,
//! `client.disk().folder(id).children()`, `client.users().search("Ivan")`.
//!
//! Every handle method returns a [`Call`](crate::Call) of a typed request from
//! [`methods`](crate::methods); `.await` it, or adjust its parameters first with
//! [`Call::with`](crate::Call::with).

pub(crate) mod crm;
pub(crate) mod disk;
pub(crate) mod events;
pub(crate) mod im;
pub(crate) mod imconnector;
pub(crate) mod imopenlines;
pub(crate) mod tasks;
pub(crate) mod users;

use crate::client::Client;

impl Client {
    /// The `crm` scope: leads, deals, contacts, companies, universal items, timeline comments.
    pub fn crm(&self) -> crm::Crm<'_> {
        crm::Crm::new(self)
    }

    /// The `task` scope: tasks and their comments.
    pub fn tasks(&self) -> tasks::Tasks<'_> {
        tasks::Tasks::new(self)
    }

    /// The `disk` scope: storages, folders and files.
    pub fn disk(&self) -> disk::Disk<'_> {
        disk::Disk::new(self)
    }

    /// The `user` scope.
    pub fn users(&self) -> users::Users<'_> {
        users::Users::new(self)
    }

    /// The `im` scope: notifications and chat messages.
    pub fn im(&self) -> im::Im<'_> {
        im::Im::new(self)
    }

    /// Custom open-line connectors (`imconnector.*`, application context only).
    pub fn imconnector(&self) -> imconnector::ImConnector<'_> {
        imconnector::ImConnector::new(self)
    }

    /// Open lines (`imopenlines.*`).
    pub fn imopenlines(&self) -> imopenlines::ImOpenLines<'_> {
        imopenlines::ImOpenLines::new(self)
    }

    /// Event bindings (`event.*`, application context only).
    pub fn events(&self) -> events::Events<'_> {
        events::Events::new(self)
    }
}
