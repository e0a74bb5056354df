//! [`OpenLineConfig`]: an open line of `imopenlines.config.*`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::list::Identified;
use crate::types::{BxDateTime, Id, lenient, via_value};

/// An open line's settings, as `imopenlines.config.get` and `imopenlines.config.list.get`
/// return them.
///
/// `config.list.get` returns only the selected fields. The many settings this model does not name
/// (vote, KPI, bot and work-time texts, …) are in [`OpenLineConfig::extra`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct OpenLineConfig {
    /// `ID`: the id.
    #[serde(rename = "ID")]
    pub id: Id,
    /// `LINE_NAME`: the line's name.
    #[serde(rename = "LINE_NAME", default, with = "lenient::empty_as_none")]
    pub line_name: Option<String>,
    /// `ACTIVE`: whether the line is active.
    #[serde(rename = "ACTIVE", default, with = "lenient::yes_no")]
    pub active: Option<bool>,
    /// `CRM`: whether conversations are recorded in the CRM.
    #[serde(rename = "CRM", default, with = "lenient::yes_no")]
    pub crm: Option<bool>,
    /// `CRM_CREATE`: what to create for a new client (`lead`, `deal`, `none`).
    #[serde(rename = "CRM_CREATE", default, with = "lenient::empty_as_none")]
    pub crm_create: Option<String>,
    /// `CRM_SOURCE`: the CRM source of created records.
    #[serde(rename = "CRM_SOURCE", default, with = "lenient::empty_as_none")]
    pub crm_source: Option<String>,
    /// `CRM_FORWARD`: whether a known client goes to the record's responsible user.
    #[serde(rename = "CRM_FORWARD", default, with = "lenient::yes_no")]
    pub crm_forward: Option<bool>,
    /// `QUEUE_TYPE`: how conversations are distributed (`evenly`, `strictly`, `all`).
    #[serde(rename = "QUEUE_TYPE", default, with = "lenient::empty_as_none")]
    pub queue_type: Option<String>,
    /// `QUEUE_TIME`: seconds before a conversation passes to the next operator.
    #[serde(rename = "QUEUE_TIME", default, with = "lenient::opt_u64")]
    pub queue_time: Option<u64>,
    /// `NO_ANSWER_TIME`: seconds before the no-answer rule applies.
    #[serde(rename = "NO_ANSWER_TIME", default, with = "lenient::opt_u64")]
    pub no_answer_time: Option<u64>,
    /// `CHECK_AVAILABLE`: whether only available operators get conversations.
    #[serde(rename = "CHECK_AVAILABLE", default, with = "lenient::yes_no")]
    pub check_available: Option<bool>,
    /// `QUEUE`: operator user ids.
    #[serde(rename = "QUEUE", default, with = "lenient::seq")]
    pub queue: Vec<Id>,
    /// `QUEUE_ONLINE`: whether an operator of the queue is online.
    #[serde(rename = "QUEUE_ONLINE", default, with = "lenient::yes_no")]
    pub queue_online: Option<bool>,
    /// `QUEUE_USERS_FIELDS`: operators' display data, by user id.
    #[serde(rename = "QUEUE_USERS_FIELDS", default, with = "lenient::map")]
    pub queue_users_fields: BTreeMap<String, QueueUser>,
    /// `CONFIG_QUEUE`: the queue as configured (users and departments).
    #[serde(rename = "CONFIG_QUEUE", default, with = "lenient::seq")]
    pub config_queue: Vec<Value>,
    /// `WELCOME_MESSAGE`: whether a welcome message is sent.
    #[serde(rename = "WELCOME_MESSAGE", default, with = "lenient::yes_no")]
    pub welcome_message: Option<bool>,
    /// `WELCOME_MESSAGE_TEXT`: the welcome message.
    #[serde(
        rename = "WELCOME_MESSAGE_TEXT",
        default,
        with = "lenient::empty_as_none"
    )]
    pub welcome_message_text: Option<String>,
    /// `WELCOME_BOT_ENABLE`: whether a chat bot greets clients.
    #[serde(rename = "WELCOME_BOT_ENABLE", default, with = "lenient::yes_no")]
    pub welcome_bot_enable: Option<bool>,
    /// `WELCOME_BOT_ID`: that bot.
    #[serde(rename = "WELCOME_BOT_ID", default, with = "lenient::opt")]
    pub welcome_bot_id: Option<Id>,
    /// `WORKTIME_ENABLE`: whether working hours apply.
    #[serde(rename = "WORKTIME_ENABLE", default, with = "lenient::yes_no")]
    pub worktime_enable: Option<bool>,
    /// `WORKTIME_FROM`: start of working hours (`9`, `9.30`).
    #[serde(rename = "WORKTIME_FROM", default, with = "lenient::empty_as_none")]
    pub worktime_from: Option<String>,
    /// `WORKTIME_TO`: end of working hours.
    #[serde(rename = "WORKTIME_TO", default, with = "lenient::empty_as_none")]
    pub worktime_to: Option<String>,
    /// `WORKTIME_TIMEZONE`: time zone of the working hours.
    #[serde(rename = "WORKTIME_TIMEZONE", default, with = "lenient::empty_as_none")]
    pub worktime_timezone: Option<String>,
    /// `AUTO_CLOSE_TIME`: seconds of client silence before the conversation closes.
    #[serde(rename = "AUTO_CLOSE_TIME", default, with = "lenient::opt_u64")]
    pub auto_close_time: Option<u64>,
    /// `LANGUAGE_ID`: language of the line's messages.
    #[serde(rename = "LANGUAGE_ID", default, with = "lenient::empty_as_none")]
    pub language_id: Option<String>,
    /// `DATE_CREATE`: when the line was created.
    #[serde(rename = "DATE_CREATE", default, with = "lenient::opt")]
    pub date_create: Option<BxDateTime>,
    /// `DATE_MODIFY`: when the line was changed last.
    #[serde(rename = "DATE_MODIFY", default, with = "lenient::opt")]
    pub date_modify: Option<BxDateTime>,
    /// `MODIFY_USER_ID`: who changed it last.
    #[serde(rename = "MODIFY_USER_ID", default, with = "lenient::opt")]
    pub modify_user_id: Option<Id>,
    /// `TEMPORARY`: whether it is a draft.
    #[serde(rename = "TEMPORARY", default, with = "lenient::yes_no")]
    pub temporary: Option<bool>,
    /// `XML_ID`: external code.
    #[serde(rename = "XML_ID", default, with = "lenient::empty_as_none")]
    pub xml_id: Option<String>,
    /// Every other field, verbatim: user fields (`UF_*`) and fields this SDK does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(OpenLineConfig);

impl Identified for OpenLineConfig {
    fn row_id(&self) -> Option<u64> {
        Some(self.id.get())
    }
}

/// An operator's display data in an [`OpenLineConfig`] (`QUEUE_USERS_FIELDS` values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct QueueUser {
    /// `USER_NAME`: display name (empty: the profile's).
    #[serde(rename = "USER_NAME", default, with = "lenient::empty_as_none")]
    pub user_name: Option<String>,
    /// `USER_WORK_POSITION`: job title.
    #[serde(
        rename = "USER_WORK_POSITION",
        default,
        with = "lenient::empty_as_none"
    )]
    pub user_work_position: Option<String>,
    /// `USER_AVATAR`: avatar URL.
    #[serde(rename = "USER_AVATAR", default, with = "lenient::empty_as_none")]
    pub user_avatar: Option<String>,
    /// `USER_AVATAR_ID`: avatar file id.
    #[serde(rename = "USER_AVATAR_ID", default, with = "lenient::opt")]
    pub user_avatar_id: Option<Id>,
    /// Every other field, verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(QueueUser);
