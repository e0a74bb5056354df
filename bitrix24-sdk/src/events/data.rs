//! [`EventData`]: the typed `data` of every event the SDK knows.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::app::{AppInstallData, AppTestData, AppUninstallData, AppUpdateData, OfflineEventData};
use super::crm::{CrmEntityData, CrmTimelineCommentData};
use super::lenient;
use super::openlines::{
    ImConnectorLineDeleteData, ImConnectorMessagesData, ImConnectorStatusDeleteData, OpenLineData,
};
use super::tasks::{TaskCommentData, TaskData};
use super::user::UserData;

macro_rules! event_data {
    ($($(#[$meta:meta])* $name:literal => $variant:ident($ty:ty),)*) => {
        /// The `data` of an event, typed by the event's name.
        ///
        /// Every variant's payload is lenient: numbers may come as strings or numbers, `Y`/`N`
        /// and `1`/`0` are booleans, `""` and `"undefined"` are `None`, and keys the SDK does
        /// not know are kept in each struct's `extra` map. When the data of a known event does
        /// not have the documented shape at all (a number field holding text, a scalar where
        /// a map belongs), the event arrives as [`Unknown`](Self::Unknown) with its data
        /// untouched rather than failing.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum EventData {
            $(
                $(#[$meta])*
                $variant($ty),
            )*
            /// An event the SDK has no type for, or whose data did not fit its type.
            Unknown {
                /// The event name, upper case.
                name: String,
                /// `data`, as received (strings for a form body; `null` when absent).
                data: Value,
            },
        }

        /// The names of the events [`EventData`] has a typed variant for, upper case.
        pub const KNOWN_EVENTS: &[&str] = &[$($name),*];

        impl EventData {
            /// Types `data` by the event `name` (upper case).
            pub fn from_parts(name: &str, data: Value) -> Self {
                let typed = match name {
                    $($name => decode::<$ty>(&data).map(Self::$variant),)*
                    _ => None,
                };
                typed.unwrap_or_else(|| Self::Unknown {
                    name: name.to_owned(),
                    data,
                })
            }

            /// The event name this data belongs to, upper case.
            pub fn event_name(&self) -> &str {
                match self {
                    $(Self::$variant(_) => $name,)*
                    Self::Unknown { name, .. } => name,
                }
            }
        }
    };
}

event_data! {
    /// `ONAPPINSTALL`: the app was installed.
    "ONAPPINSTALL" => AppInstall(AppInstallData),
    /// `ONAPPUPDATE`: the app was updated to a new version.
    "ONAPPUPDATE" => AppUpdate(AppUpdateData),
    /// `ONAPPUNINSTALL`: the app was removed; its tokens are revoked.
    "ONAPPUNINSTALL" => AppUninstall(AppUninstallData),
    /// `ONAPPTEST`: sent by `event.test`.
    "ONAPPTEST" => AppTest(AppTestData),
    /// `ONOFFLINEEVENT`: the offline-event queue has rows to fetch.
    "ONOFFLINEEVENT" => OfflineEvent(OfflineEventData),
    /// `ONCRMLEADADD`: a lead was created.
    "ONCRMLEADADD" => CrmLeadAdd(CrmEntityData),
    /// `ONCRMLEADUPDATE`: a lead was changed.
    "ONCRMLEADUPDATE" => CrmLeadUpdate(CrmEntityData),
    /// `ONCRMLEADDELETE`: a lead was deleted.
    "ONCRMLEADDELETE" => CrmLeadDelete(CrmEntityData),
    /// `ONCRMDEALADD`: a deal was created.
    "ONCRMDEALADD" => CrmDealAdd(CrmEntityData),
    /// `ONCRMDEALUPDATE`: a deal was changed.
    "ONCRMDEALUPDATE" => CrmDealUpdate(CrmEntityData),
    /// `ONCRMDEALDELETE`: a deal was deleted.
    "ONCRMDEALDELETE" => CrmDealDelete(CrmEntityData),
    /// `ONCRMCONTACTADD`: a contact was created.
    "ONCRMCONTACTADD" => CrmContactAdd(CrmEntityData),
    /// `ONCRMCONTACTUPDATE`: a contact was changed.
    "ONCRMCONTACTUPDATE" => CrmContactUpdate(CrmEntityData),
    /// `ONCRMCONTACTDELETE`: a contact was deleted.
    "ONCRMCONTACTDELETE" => CrmContactDelete(CrmEntityData),
    /// `ONCRMCOMPANYADD`: a company was created.
    "ONCRMCOMPANYADD" => CrmCompanyAdd(CrmEntityData),
    /// `ONCRMCOMPANYUPDATE`: a company was changed.
    "ONCRMCOMPANYUPDATE" => CrmCompanyUpdate(CrmEntityData),
    /// `ONCRMCOMPANYDELETE`: a company was deleted.
    "ONCRMCOMPANYDELETE" => CrmCompanyDelete(CrmEntityData),
    /// `ONCRMDYNAMICITEMADD`: a smart-process item was created.
    "ONCRMDYNAMICITEMADD" => CrmDynamicItemAdd(CrmEntityData),
    /// `ONCRMDYNAMICITEMUPDATE`: a smart-process item was changed.
    "ONCRMDYNAMICITEMUPDATE" => CrmDynamicItemUpdate(CrmEntityData),
    /// `ONCRMDYNAMICITEMDELETE`: a smart-process item was deleted.
    "ONCRMDYNAMICITEMDELETE" => CrmDynamicItemDelete(CrmEntityData),
    /// `ONCRMTIMELINECOMMENTADD`: a timeline comment was added (the docs' sample spells it
    /// `onCrmTimelineCommentAdd`; names are compared upper case).
    "ONCRMTIMELINECOMMENTADD" => CrmTimelineCommentAdd(CrmTimelineCommentData),
    /// `ONCRMTIMELINECOMMENTUPDATE`: a timeline comment was changed.
    "ONCRMTIMELINECOMMENTUPDATE" => CrmTimelineCommentUpdate(CrmTimelineCommentData),
    /// `ONCRMTIMELINECOMMENTDELETE`: a timeline comment was deleted.
    "ONCRMTIMELINECOMMENTDELETE" => CrmTimelineCommentDelete(CrmTimelineCommentData),
    /// `ONTASKADD`: a task was created.
    "ONTASKADD" => TaskAdd(TaskData),
    /// `ONTASKUPDATE`: a task was changed.
    "ONTASKUPDATE" => TaskUpdate(TaskData),
    /// `ONTASKDELETE`: a task was deleted.
    "ONTASKDELETE" => TaskDelete(TaskData),
    /// `ONTASKCOMMENTADD`: a comment was added to a task.
    "ONTASKCOMMENTADD" => TaskCommentAdd(TaskCommentData),
    /// `ONTASKCOMMENTUPDATE`: a task comment was edited.
    "ONTASKCOMMENTUPDATE" => TaskCommentUpdate(TaskCommentData),
    /// `ONTASKCOMMENTDELETE`: a task comment was deleted.
    "ONTASKCOMMENTDELETE" => TaskCommentDelete(TaskCommentData),
    /// `ONUSERADD`: a user was added.
    "ONUSERADD" => UserAdd(UserData),
    /// `ONUSERUPDATE`: a user was changed.
    "ONUSERUPDATE" => UserUpdate(UserData),
    /// `ONIMCONNECTORMESSAGEADD`: an operator's message must go out to the channel.
    "ONIMCONNECTORMESSAGEADD" => ImConnectorMessageAdd(ImConnectorMessagesData),
    /// `ONIMCONNECTORMESSAGEUPDATE`: an operator edited a message already sent.
    "ONIMCONNECTORMESSAGEUPDATE" => ImConnectorMessageUpdate(ImConnectorMessagesData),
    /// `ONIMCONNECTORMESSAGEDELETE`: an operator deleted a message already sent.
    "ONIMCONNECTORMESSAGEDELETE" => ImConnectorMessageDelete(ImConnectorMessagesData),
    /// `ONIMCONNECTORLINEDELETE`: an open line was deleted.
    "ONIMCONNECTORLINEDELETE" => ImConnectorLineDelete(ImConnectorLineDeleteData),
    /// `ONIMCONNECTORSTATUSDELETE`: the connector was switched off on a line.
    "ONIMCONNECTORSTATUSDELETE" => ImConnectorStatusDelete(ImConnectorStatusDeleteData),
    /// `ONIMCONNECTORDIALOGSTART`: a dialog (session) started in a connector's chat.
    "ONIMCONNECTORDIALOGSTART" => ImConnectorDialogStart(OpenLineData),
    /// `ONIMCONNECTORDIALOGFINISH`: a dialog (session) in a connector's chat was closed.
    "ONIMCONNECTORDIALOGFINISH" => ImConnectorDialogFinish(OpenLineData),
    /// `ONOPENLINEMESSAGEADD`: a message was written in an open-line chat.
    "ONOPENLINEMESSAGEADD" => OpenLineMessageAdd(OpenLineData),
    /// `ONOPENLINEMESSAGEUPDATE`: an open-line message was edited.
    "ONOPENLINEMESSAGEUPDATE" => OpenLineMessageUpdate(OpenLineData),
    /// `ONOPENLINEMESSAGEDELETE`: an open-line message was deleted.
    "ONOPENLINEMESSAGEDELETE" => OpenLineMessageDelete(OpenLineData),
    /// `ONSESSIONSTART`: an open-line session started.
    "ONSESSIONSTART" => SessionStart(OpenLineData),
    /// `ONSESSIONFINISH`: an open-line session finished.
    "ONSESSIONFINISH" => SessionFinish(OpenLineData),
}

/// Decodes `data` into `T`; `None` when it does not fit. "Nothing" (absent, `[]`, `""`: PHP
/// sends no key at all for an empty array) reads as an empty map, so a struct of optional
/// fields still decodes; [`ImConnectorLineDeleteData`] reads the scalar itself.
fn decode<T: for<'de> Deserialize<'de>>(data: &Value) -> Option<T> {
    if lenient::is_nothing(data) {
        return T::deserialize(&Value::Object(Map::new())).ok();
    }
    T::deserialize(data).ok()
}
