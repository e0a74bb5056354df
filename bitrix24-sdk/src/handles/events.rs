//! `client.events()`.

use crate::client::Client;
use crate::method::Call;
use crate::methods::event as m;

/// Event bindings (`client.events()`); application context only. Incoming events are parsed
/// and verified by [`events`](crate::events).
#[derive(Debug, Clone, Copy)]
pub struct Events<'a> {
    client: &'a Client,
}

impl<'a> Events<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// `event.bind`: POST `event` (e.g. `ONCRMLEADADD`) to `handler`.
    pub fn bind(&self, event: &str, handler: &str) -> Call<m::Bind> {
        self.client.call(m::Bind::new(event).handler(handler))
    }

    /// `event.bind` with `event_type=offline`: queue `event` on the portal, to be fetched with
    /// [`offline`](Self::offline). Admin only.
    pub fn bind_offline(&self, event: &str) -> Call<m::Bind> {
        self.client.call(m::Bind::new(event).event_type("offline"))
    }

    /// `event.unbind` of one handler. (Leaving `handler` out of [`m::Unbind`] removes every
    /// handler of the event, which this method never does by accident.)
    pub fn unbind(&self, event: &str, handler: &str) -> Call<m::Unbind> {
        self.client.call(m::Unbind::new(event).handler(handler))
    }

    /// `event.get`: the application's bindings.
    pub fn list(&self) -> Call<m::Get> {
        self.client.call(m::Get::new())
    }

    /// `event.offline.get`: queued offline events (cleared by default).
    pub fn offline(&self) -> Call<m::offline::Get> {
        self.client.call(m::offline::Get::new())
    }
}
