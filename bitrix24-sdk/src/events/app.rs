//! Application lifecycle events: install, update, uninstall, `event.test` and the offline-queue
//! notice.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::lenient;

/// `data` of `ONAPPINSTALL`: the app was installed (or installed again) on a portal.
///
/// The `auth` block of this event carries the tokens ([`EventAuth::tokens`](super::EventAuth::tokens))
/// and the `application_token` to store for verifying later events
/// ([`Event::verify`](super::Event::verify) does that).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AppInstallData {
    /// `VERSION`: the installed version of the app.
    #[serde(rename = "VERSION", deserialize_with = "lenient::opt_string")]
    pub version: Option<String>,
    /// `ACTIVE` (`Y`/`N`): whether the app is active.
    #[serde(rename = "ACTIVE", deserialize_with = "lenient::opt_bool")]
    pub active: Option<bool>,
    /// `INSTALLED` (`Y`/`N`): whether installation is finished (apps with a UI finish it with
    /// `BX24.installFinish()`; until then no events are delivered).
    #[serde(rename = "INSTALLED", deserialize_with = "lenient::opt_bool")]
    pub installed: Option<bool>,
    /// `LANGUAGE_ID`: the portal's language, such as `ru` or `en`.
    #[serde(rename = "LANGUAGE_ID", deserialize_with = "lenient::opt_string")]
    pub language_id: Option<String>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `data` of `ONAPPUPDATE`: a new version of the app was installed. Event bindings are removed
/// on update, so the handler should bind its events again.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AppUpdateData {
    /// `VERSION`: the new version.
    #[serde(rename = "VERSION", deserialize_with = "lenient::opt_string")]
    pub version: Option<String>,
    /// `PREVIOUS_VERSION`: the version before the update.
    #[serde(rename = "PREVIOUS_VERSION", deserialize_with = "lenient::opt_string")]
    pub previous_version: Option<String>,
    /// `LANGUAGE_ID`: the portal's language.
    #[serde(rename = "LANGUAGE_ID", deserialize_with = "lenient::opt_string")]
    pub language_id: Option<String>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `data` of `ONAPPUNINSTALL`: the app was removed. Its `auth` block has no tokens (they are
/// already revoked), only `member_id` and `application_token` to verify it by.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AppUninstallData {
    /// `LANGUAGE_ID`: the portal's language.
    #[serde(rename = "LANGUAGE_ID", deserialize_with = "lenient::opt_string")]
    pub language_id: Option<String>,
    /// `CLEAN` (`1`/`0`): whether the admin asked to delete the app's data too.
    #[serde(rename = "CLEAN", deserialize_with = "lenient::opt_bool")]
    pub clean: Option<bool>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `data` of `ONAPPTEST`, sent by `event.test` with the call's own parameters.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct AppTestData {
    /// `QUERY`: the parameters passed to `event.test`, as strings.
    #[serde(rename = "QUERY", deserialize_with = "lenient::map")]
    pub query: Map<String, Value>,
    /// `LANGUAGE_ID`: the portal's language.
    #[serde(rename = "LANGUAGE_ID", deserialize_with = "lenient::opt_string")]
    pub language_id: Option<String>,
    /// Any other keys, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `data` of `ONOFFLINEEVENT`: empty. The event only says "the offline queue has rows": fetch
/// them with `event.offline.get`. Its `auth` block carries a `refresh_token`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OfflineEventData {
    /// Any keys sent (none are documented).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
