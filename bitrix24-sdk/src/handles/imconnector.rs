//! `client.imconnector()`.

use serde_json::Value;

use crate::client::Client;
use crate::method::Call;
use crate::methods::imconnector as m;

/// Custom open-line connectors (`client.imconnector()`); application context only.
#[derive(Debug, Clone, Copy)]
pub struct ImConnector<'a> {
    client: &'a Client,
}

impl<'a> ImConnector<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// `imconnector.register`: `icon` is `{"DATA_IMAGE": "data:image/svg+xml,…"}`; failures come
    /// back inside an HTTP 200 reply, in the result.
    pub fn register(
        &self,
        id: &str,
        name: &str,
        icon: Value,
        placement_handler: &str,
    ) -> Call<m::Register> {
        self.client
            .call(m::Register::new(id, name, icon, placement_handler))
    }

    /// `imconnector.activate` (or deactivate) the connector on an open line.
    pub fn activate(&self, connector: &str, line: u64, active: bool) -> Call<m::Activate> {
        self.client.call(m::Activate::new(
            connector,
            super::crm::to_i64(line),
            if active { "1" } else { "0" },
        ))
    }

    /// `imconnector.status`.
    pub fn status(&self, connector: &str, line: u64) -> Call<m::Status> {
        self.client
            .call(m::Status::new(connector).line(line.to_string()))
    }

    /// `imconnector.connector.data.set`: `{ID, URL, URL_IM, NAME}` shown to operators.
    pub fn set_data(
        &self,
        connector: &str,
        line: u64,
        data: Value,
    ) -> Call<m::connector::data::Set> {
        self.client.call(m::connector::data::Set::new(
            connector,
            super::crm::to_i64(line),
            data,
        ))
    }

    /// `imconnector.send.messages`: customers' messages into the open line.
    pub fn send_messages(
        &self,
        connector: &str,
        line: u64,
        messages: Value,
    ) -> Call<m::send::Messages> {
        self.client.call(m::send::Messages::new(
            connector,
            super::crm::to_i64(line),
            messages,
        ))
    }

    /// `imconnector.update.messages`: customers' edits.
    pub fn update_messages(
        &self,
        connector: &str,
        line: u64,
        messages: Value,
    ) -> Call<m::update::Messages> {
        self.client.call(m::update::Messages::new(
            connector,
            super::crm::to_i64(line),
            messages,
        ))
    }

    /// `imconnector.delete.messages`: customers' deletions.
    pub fn delete_messages(
        &self,
        connector: &str,
        line: u64,
        messages: Value,
    ) -> Call<m::delete::Messages> {
        self.client.call(m::delete::Messages::new(
            connector,
            super::crm::to_i64(line),
            messages,
        ))
    }

    /// `imconnector.send.status.delivery`: the operator's messages reached the customer.
    pub fn delivered(
        &self,
        connector: &str,
        line: u64,
        messages: Value,
    ) -> Call<m::send::status::Delivery> {
        self.client.call(m::send::status::Delivery::new(
            connector,
            super::crm::to_i64(line),
            messages,
        ))
    }
}
