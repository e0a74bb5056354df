//! `client.imopenlines()`.

use super::crm::to_i64;
use crate::client::Client;
use crate::method::Call;
use crate::methods::imopenlines as m;

/// Open lines (`client.imopenlines()`).
#[derive(Debug, Clone, Copy)]
pub struct ImOpenLines<'a> {
    client: &'a Client,
}

impl<'a> ImOpenLines<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// `imopenlines.config.list.get`: the open lines.
    pub fn configs(&self) -> Call<m::config::list::Get> {
        self.client.call(m::config::list::Get::new())
    }

    /// `imopenlines.config.get`.
    pub fn config(&self, id: u64) -> Call<m::config::Get> {
        self.client.call(m::config::Get::new(to_i64(id)))
    }

    /// `imopenlines.dialog.get` by chat id.
    pub fn dialog(&self, chat_id: u64) -> Call<m::dialog::Get> {
        self.client
            .call(m::dialog::Get::new().chat_id(to_i64(chat_id)))
    }

    /// `imopenlines.dialog.get` by user code `connector|line|chat|user`.
    pub fn dialog_by_user_code(&self, user_code: &str) -> Call<m::dialog::Get> {
        self.client.call(m::dialog::Get::new().user_code(user_code))
    }

    /// `imopenlines.crm.message.add`: a message into an open-line chat bound to a CRM entity
    /// (`lead`, `deal`, `company`, `contact`).
    pub fn crm_message(
        &self,
        entity_type: &str,
        entity_id: u64,
        user_id: u64,
        chat_id: u64,
        message: &str,
    ) -> Call<m::crm::message::Add> {
        self.client.call(m::crm::message::Add::new(
            entity_type,
            to_i64(entity_id),
            to_i64(user_id),
            to_i64(chat_id),
            message,
        ))
    }

    /// `imopenlines.session.open`: the chat of a user code, opened if needed.
    pub fn open_session(&self, user_code: &str) -> Call<m::session::Open> {
        self.client.call(m::session::Open::new(user_code))
    }
}
