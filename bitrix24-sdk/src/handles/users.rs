//! `client.users()`.

use serde_json::json;

use super::crm::to_i64;
use crate::client::Client;
use crate::method::Call;
use crate::methods::user as m;

/// The `user` scope (`client.users()`).
#[derive(Debug, Clone, Copy)]
pub struct Users<'a> {
    client: &'a Client,
}

impl<'a> Users<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// `user.current`: the user the call runs as.
    pub fn current(&self) -> Call<m::Current> {
        self.client.call(m::Current::new())
    }

    /// `user.get` for one id (a list of at most one user).
    pub fn get(&self, id: u64) -> Call<m::Get> {
        self.client
            .call(m::Get::new().param("FILTER", json!({ "ID": id })))
    }

    /// `user.get` with a filter of user fields, e.g. `{"UF_TELEGRAM_ID": "123"}`.
    pub fn find(&self, filter: serde_json::Value) -> Call<m::Get> {
        self.client.call(m::Get::new().param("FILTER", filter))
    }

    /// `user.search`: users whose name, position or department matches `text`.
    pub fn search(&self, text: &str) -> Call<m::Search> {
        self.client
            .call(m::Search::new().param("FILTER", json!({ "FIND": text })))
    }

    /// `user.update`: set the fields with [`Call::with`], or user fields with `param`, e.g.
    /// `.with(|m| m.param("UF_TELEGRAM_ID", "123"))`.
    pub fn update(&self, id: u64) -> Call<m::Update> {
        self.client.call(m::Update::new(to_i64(id)))
    }

    /// `user.fields`.
    pub fn fields(&self) -> Call<m::Fields> {
        self.client.call(m::Fields::new())
    }
}
