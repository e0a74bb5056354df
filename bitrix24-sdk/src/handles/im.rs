//! `client.im()`.

use super::crm::to_i64;
use crate::client::Client;
use crate::method::Call;
use crate::methods::im as m;

/// The `im` scope (`client.im()`).
#[derive(Debug, Clone, Copy)]
pub struct Im<'a> {
    client: &'a Client,
}

impl<'a> Im<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// `im.notify.personal.add`: a notification to a user from the calling user.
    pub fn notify_personal(&self, user_id: u64, message: &str) -> Call<m::notify::personal::Add> {
        self.client
            .call(m::notify::personal::Add::new(to_i64(user_id), message))
    }

    /// `im.notify.system.add`: a system notification to a user.
    pub fn notify_system(&self, user_id: u64, message: &str) -> Call<m::notify::system::Add> {
        self.client
            .call(m::notify::system::Add::new(to_i64(user_id), message))
    }

    /// `im.message.add`: a message to a dialog (`chat123` or a user id).
    pub fn send_message(&self, dialog_id: &str, message: &str) -> Call<m::message::Add> {
        self.client.call(m::message::Add::new(dialog_id, message))
    }
}
