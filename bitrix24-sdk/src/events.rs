//! Inbound events: parsing, verification and typed data.
//!
//! Bitrix24 tells an app (or an outgoing webhook) that something happened with a POST to a
//! handler URL bound with `event.bind` (or set in the outgoing webhook's settings). This module
//! turns such a request into an [`Event`] and checks that the portal sent it.
//!
//! # What arrives
//!
//! An `application/x-www-form-urlencoded` body with PHP-style keys, every value a string:
//!
//! ```text
//! event=ONCRMLEADADD&event_handler_id=707&data[FIELDS][ID]=1000983&ts=1742807175
//! &auth[member_id]=a223c6b3…&auth[application_token]=51856fef…&auth[access_token]=…
//! ```
//!
//! - [`parse_form`] rebuilds the tree PHP would see (`data[FIELDS][ID]` → `{"data":
//!   {"FIELDS": {"ID": "1000983"}}}`, numeric keys → lists), with limits and without ever
//!   panicking.
//! - [`Event::from_form`] reads that tree: the name (upper case: the docs' sample of
//!   `onCrmTimelineCommentAdd` is mixed case), the handler id (`event_handler_id`, or
//!   `eventId` for open-line events), `ts` (a string or a number), the [`EventAuth`] block
//!   and the [`EventData`], typed by the event's name (`data` may even be a scalar, as
//!   `data=107` in `ONIMCONNECTORLINEDELETE`). Events the SDK has no type for arrive as
//!   [`EventData::Unknown`] with their data as JSON; nothing is refused for being new.
//! - [`Event::from_value`] reads the same from JSON, such as the docs' renderings of events.
//!
//! # Verifying
//!
//! Bitrix24 signs nothing. The only proof that a POST comes from the portal is
//! `auth[application_token]`, a secret the portal shares with the app:
//!
//! - **Applications**: the token arrives with `ONAPPINSTALL`; store it keyed by
//!   `auth[member_id]` in an [`ApplicationTokens`] store. On every later event compare
//!   `auth[application_token]` with the stored token, in constant time, before touching any
//!   data. [`Event::verify`] does exactly that, and keeps the store current on install, update
//!   and uninstall (its documentation states the trust rule for installs).
//! - **Outgoing webhooks**: the token is fixed and shown when the webhook is created; check
//!   it with [`Event::verify_outgoing`].
//!
//! [`EventVerifier`] bundles both for an HTTP endpoint. With the `axum` feature, the
//! `VerifiedEvent` extractor (module `events::axum`) reads, parses and verifies a request in
//! one step, answering 400, 401, 413 or 415 by itself.
//!
//! ```
//! use bitrix24::events::{Event, EventData, MemoryApplicationTokens, Verified};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> bitrix24::Result<()> {
//! let store = MemoryApplicationTokens::new();
//!
//! let install = Event::from_form(
//!     b"event=ONAPPINSTALL&data[VERSION]=1&auth[member_id]=m1&auth[application_token]=t1",
//! )?;
//! assert_eq!(install.verify(&store).await?, Verified::Installed);
//!
//! let lead = Event::from_form(
//!     b"event=ONCRMLEADADD&data[FIELDS][ID]=7&auth[member_id]=m1&auth[application_token]=t1",
//! )?;
//! assert_eq!(lead.verify(&store).await?, Verified::Matched);
//! if let EventData::CrmLeadAdd(data) = &lead.data {
//!     assert_eq!(data.id(), Some(7));
//! }
//!
//! let forged = Event::from_form(
//!     b"event=ONCRMLEADADD&data[FIELDS][ID]=7&auth[member_id]=m1&auth[application_token]=guess",
//! )?;
//! assert!(forged.verify(&store).await.unwrap_err().is_auth());
//! # Ok(())
//! # }
//! ```
//!
//! # Queue first, answer fast
//!
//! Bitrix24 delivers events through a queue server and **does not retry**: if the handler is
//! down, slow or answers with an error, the event is lost. Slow handlers are also given a lower
//! priority, and there is no back-pressure (10,000 updated deals mean 10,000 POSTs). So a
//! handler should:
//!
//! 1. read, parse and verify the request (cheap; no calls back to the portal);
//! 2. write the event to durable storage (an inbox table; keep the raw body if you like, and
//!    parse it again later with [`Event::from_form`]);
//! 3. answer `200` at once, and do the work (reading the changed entity with a `get` method,
//!    which the event does not contain) in a worker with retries.
//!
//! Events lost while the handler was unreachable can be recovered with offline events
//! (`event.offline.get`), bound with `event_type=offline`; `ONOFFLINEEVENT` tells the app when
//! the offline queue has rows.

mod app;
mod auth;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod crm;
mod data;
mod form;
mod lenient;
mod openlines;
mod tasks;
mod user;
mod verify;

use serde_json::Value;

pub use app::{AppInstallData, AppTestData, AppUninstallData, AppUpdateData, OfflineEventData};
pub use auth::EventAuth;
pub use crm::{CrmEntityData, CrmEntityRef, CrmTimelineCommentData};
pub use data::{EventData, KNOWN_EVENTS};
pub use form::{MAX_DEPTH, MAX_FIELDS, parse_form, to_form};
pub use openlines::{
    ExternalChatRef, ImConnectorFile, ImConnectorLineDeleteData, ImConnectorMessage,
    ImConnectorMessageBody, ImConnectorMessagesData, ImConnectorStatusDeleteData, ImMessageRef,
    OpenLineChat, OpenLineConnector, OpenLineData, OpenLineItem, OpenLineMessage, OpenLineSession,
    OpenLineUser,
};
pub use tasks::{TaskCommentData, TaskCommentRef, TaskData, TaskRef};
pub use user::UserData;
pub use verify::{ApplicationTokens, EventVerifier, MemoryApplicationTokens, Verified};

/// The `event.*` methods (bind, unbind, list, offline events) as a handle: `client.events()`.
pub use crate::handles::events::Events;

use crate::auth::ApplicationToken;
use crate::error::{Error, Result};

/// An inbound event, as Bitrix24 POSTs it to a handler.
///
/// Parse it with [`from_form`](Self::from_form) (the wire format) or
/// [`from_value`](Self::from_value) (JSON), then check it with [`verify`](Self::verify) or
/// [`verify_outgoing`](Self::verify_outgoing) before acting on it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// `event`: the event name, upper case (`ONCRMLEADADD`).
    pub name: String,
    /// `event_handler_id` (or `eventId` in open-line and connector dialog events): the
    /// binding that fired.
    pub handler_id: Option<u64>,
    /// `ts`: when the queue sent it, in unix seconds.
    pub ts: Option<i64>,
    /// `auth[...]`: tokens and the `application_token` to verify by.
    pub auth: Option<EventAuth>,
    /// `data[...]`, typed by the event's name.
    pub data: EventData,
}

impl Event {
    /// Parses a form body as Bitrix24 sends it (see [`parse_form`]).
    ///
    /// The caller limits the body size (the axum extractor caps it at 1 MiB).
    ///
    /// # Errors
    /// [`ErrorKind::Decode`](crate::ErrorKind::Decode) when the body exceeds the parser's
    /// limits or has no `event` name.
    pub fn from_form(body: &[u8]) -> Result<Self> {
        Self::from_value(parse_form(body)?)
    }

    /// Parses a JSON body (`{"event": …, "data": {…}, "auth": {…}}`), the shape the docs
    /// print events in.
    ///
    /// # Errors
    /// [`ErrorKind::Decode`](crate::ErrorKind::Decode) when the body is not JSON or has no
    /// `event` name.
    pub fn from_json(body: &[u8]) -> Result<Self> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|error| Error::decode("event body is not JSON", Some(Box::new(error))))?;
        Self::from_value(value)
    }

    /// Reads an event from its tree: a form parsed by [`parse_form`] or the JSON rendering.
    ///
    /// Lenient: `ts` and the handler id may be strings or numbers (and are `None` when they
    /// cannot be read), `auth` may be missing, and data that does not fit its event's type
    /// becomes [`EventData::Unknown`].
    ///
    /// # Errors
    /// [`ErrorKind::Decode`](crate::ErrorKind::Decode) when `value` is not a map or has no
    /// non-empty `event` name.
    pub fn from_value(value: Value) -> Result<Self> {
        let Value::Object(mut map) = value else {
            return Err(Error::decode("event body is not a map of fields", None));
        };
        let name = map
            .get("event")
            .and_then(Value::as_str)
            .map(|name| name.trim().to_ascii_uppercase())
            .filter(|name| !name.is_empty())
            .ok_or_else(|| Error::decode("event body has no `event` name", None))?;
        let number = |key: &str| {
            map.get(key)
                .and_then(|value| lenient::i64_of(value).ok().flatten())
        };
        let handler_id = ["event_handler_id", "eventId"].iter().find_map(|key| {
            map.get(*key)
                .and_then(|value| lenient::u64_of(value).ok().flatten())
        });
        let ts = number("ts");
        let auth = map.get("auth").and_then(EventAuth::from_value);
        let data = map.remove("data").unwrap_or(Value::Null);
        let data = EventData::from_parts(&name, data);
        Ok(Self {
            name,
            handler_id,
            ts,
            auth,
            data,
        })
    }

    /// `auth[member_id]`: the portal's unique id.
    pub fn member_id(&self) -> Option<&str> {
        self.auth.as_ref()?.member_id.as_deref()
    }

    /// `auth[domain]`: the portal's host.
    pub fn domain(&self) -> Option<&str> {
        self.auth.as_ref()?.domain.as_deref()
    }

    /// `auth[application_token]`.
    pub fn application_token(&self) -> Option<&ApplicationToken> {
        self.auth.as_ref()?.application_token.as_ref()
    }

    /// Whether [`data`](Self::data) is typed (not [`EventData::Unknown`]).
    pub fn is_known(&self) -> bool {
        !matches!(self.data, EventData::Unknown { .. })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_names_ids_and_times_in_either_form() {
        let event = Event::from_value(json!({
            "event": " onCrmTimelineCommentAdd ", "eventId": 3, "ts": "17", "data": { "ID": 999 },
        }))
        .unwrap();
        assert_eq!(event.name, "ONCRMTIMELINECOMMENTADD");
        assert_eq!((event.handler_id, event.ts), (Some(3), Some(17)));
        assert!(event.auth.is_none());
        let EventData::CrmTimelineCommentAdd(data) = &event.data else {
            panic!("{event:?}")
        };
        assert_eq!(data.id(), Some(999));
    }

    #[test]
    fn refuses_bodies_without_a_name() {
        for body in [
            json!({}),
            json!({ "event": "" }),
            json!({ "event": 5 }),
            json!([1]),
        ] {
            assert!(Event::from_value(body).unwrap_err().is_decode());
        }
        assert!(Event::from_json(b"{").unwrap_err().is_decode());
    }

    #[test]
    fn misfit_data_is_unknown_not_an_error() {
        let event = Event::from_value(json!({ "event": "ONCRMLEADADD", "data": "oops" })).unwrap();
        assert_eq!(
            event.data,
            EventData::Unknown {
                name: "ONCRMLEADADD".into(),
                data: json!("oops")
            }
        );
        let event = Event::from_value(
            json!({ "event": "ONCRMLEADADD", "data": { "FIELDS": { "ID": "x" } } }),
        )
        .unwrap();
        assert!(!event.is_known());
        let event =
            Event::from_value(json!({ "event": "ONSOMETHINGNEW", "data": { "A": "1" } })).unwrap();
        assert_eq!(event.data.event_name(), "ONSOMETHINGNEW");
    }

    #[test]
    fn auth_debug_is_redacted_and_tokens_are_built() {
        let event = Event::from_form(
            b"event=ONAPPINSTALL&auth[access_token]=AT-secret&auth[refresh_token]=RT-secret\
              &auth[application_token]=APP-secret&auth[member_id]=m&auth[expires_in]=3600\
              &auth[scope]=crm%2C+imopenlines&auth[client_endpoint]=https%3A%2F%2Fx.bitrix24.ru%2Frest%2F\
              &auth[user_id]=1&auth[expires]=abc",
        )
        .unwrap();
        let debug = format!("{event:?}");
        assert!(!debug.contains("secret"), "{debug}");
        let auth = event.auth.as_ref().unwrap();
        assert_eq!(auth.scopes(), ["crm", "imopenlines"]);
        assert_eq!(auth.extra.get("expires"), Some(&json!("abc")));
        let tokens = auth.tokens().unwrap();
        assert_eq!(tokens.access_token.expose_secret(), "AT-secret");
        assert_eq!(tokens.member_id.as_deref(), Some("m"));
        assert_eq!(tokens.scope, ["crm", "imopenlines"]);
        assert_eq!(tokens.user_id, Some(1));
        assert!(tokens.expires_at.is_some());
        assert_eq!(
            tokens.client_endpoint.unwrap().as_str(),
            "https://x.bitrix24.ru/rest/"
        );
        let no_refresh = EventAuth::from_value(&json!({ "access_token": "a" })).unwrap();
        assert!(no_refresh.tokens().is_none());
    }
}
