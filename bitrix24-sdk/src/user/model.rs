//! [`User`]: a user of `user.*`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::list::Identified;
use crate::types::{BxDateTime, Id, lenient, string_enum, via_value};

/// A user, as `user.get`, `user.search` and `user.current` return it.
///
/// User fields (`UF_DEPARTMENT`, `UF_PHONE_INNER`, `UF_SKYPE`, portal-defined `UF_USR_…`) are in
/// [`User::extra`]; read them with [`User::uf`] (departments: [`User::departments`]). Without the
/// `user` scope (`user_basic`, `user_brief`) the portal returns only some of the fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct User {
    /// `ID`: the id.
    #[serde(rename = "ID")]
    pub id: Id,
    /// `ACTIVE`: whether the account is active (not dismissed).
    #[serde(rename = "ACTIVE", default, with = "lenient::yes_no")]
    pub active: Option<bool>,
    /// `NAME`: first name.
    #[serde(rename = "NAME", default, with = "lenient::empty_as_none")]
    pub name: Option<String>,
    /// `LAST_NAME`: last name.
    #[serde(rename = "LAST_NAME", default, with = "lenient::empty_as_none")]
    pub last_name: Option<String>,
    /// `SECOND_NAME`: middle name.
    #[serde(rename = "SECOND_NAME", default, with = "lenient::empty_as_none")]
    pub second_name: Option<String>,
    /// `TITLE`: form of address.
    #[serde(rename = "TITLE", default, with = "lenient::empty_as_none")]
    pub title: Option<String>,
    /// `EMAIL`: e-mail address.
    #[serde(rename = "EMAIL", default, with = "lenient::empty_as_none")]
    pub email: Option<String>,
    /// `XML_ID`: external code.
    #[serde(rename = "XML_ID", default, with = "lenient::empty_as_none")]
    pub xml_id: Option<String>,
    /// `USER_TYPE`: the kind of account.
    #[serde(rename = "USER_TYPE", default, with = "lenient::opt")]
    pub user_type: Option<UserType>,
    /// `IS_ONLINE`: whether the user is online now.
    #[serde(rename = "IS_ONLINE", default, with = "lenient::yes_no")]
    pub is_online: Option<bool>,
    /// `LAST_LOGIN`: last sign-in.
    #[serde(rename = "LAST_LOGIN", default, with = "lenient::opt")]
    pub last_login: Option<BxDateTime>,
    /// `DATE_REGISTER`: registration date.
    #[serde(rename = "DATE_REGISTER", default, with = "lenient::opt")]
    pub date_register: Option<BxDateTime>,
    /// `TIMESTAMP_X`: when the profile was changed last.
    #[serde(rename = "TIMESTAMP_X", default, with = "lenient::opt")]
    pub timestamp_x: Option<BxDateTime>,
    /// `LAST_ACTIVITY_DATE`: last activity.
    #[serde(rename = "LAST_ACTIVITY_DATE", default, with = "lenient::opt")]
    pub last_activity_date: Option<BxDateTime>,
    /// `TIME_ZONE`: time zone name (empty: the portal's).
    #[serde(rename = "TIME_ZONE", default, with = "lenient::empty_as_none")]
    pub time_zone: Option<String>,
    /// `TIME_ZONE_OFFSET`: offset of the user's time zone from the server's, in seconds.
    #[serde(rename = "TIME_ZONE_OFFSET", default, with = "lenient::opt_i64")]
    pub time_zone_offset: Option<i64>,
    /// `LANGUAGE_ID`: interface language.
    #[serde(rename = "LANGUAGE_ID", default, with = "lenient::empty_as_none")]
    pub language_id: Option<String>,
    /// `PERSONAL_GENDER`: `M`, `F` or empty.
    #[serde(rename = "PERSONAL_GENDER", default, with = "lenient::empty_as_none")]
    pub personal_gender: Option<String>,
    /// `PERSONAL_PROFESSION`: profession.
    #[serde(
        rename = "PERSONAL_PROFESSION",
        default,
        with = "lenient::empty_as_none"
    )]
    pub personal_profession: Option<String>,
    /// `PERSONAL_WWW`: personal web site.
    #[serde(rename = "PERSONAL_WWW", default, with = "lenient::empty_as_none")]
    pub personal_www: Option<String>,
    /// `PERSONAL_BIRTHDAY`: date of birth.
    #[serde(rename = "PERSONAL_BIRTHDAY", default, with = "lenient::opt")]
    pub personal_birthday: Option<BxDateTime>,
    /// `PERSONAL_PHOTO`: photo URL.
    #[serde(rename = "PERSONAL_PHOTO", default, with = "lenient::empty_as_none")]
    pub personal_photo: Option<String>,
    /// `PERSONAL_ICQ`: ICQ.
    #[serde(rename = "PERSONAL_ICQ", default, with = "lenient::empty_as_none")]
    pub personal_icq: Option<String>,
    /// `PERSONAL_PHONE`: personal phone.
    #[serde(rename = "PERSONAL_PHONE", default, with = "lenient::empty_as_none")]
    pub personal_phone: Option<String>,
    /// `PERSONAL_FAX`: personal fax.
    #[serde(rename = "PERSONAL_FAX", default, with = "lenient::empty_as_none")]
    pub personal_fax: Option<String>,
    /// `PERSONAL_MOBILE`: mobile phone.
    #[serde(rename = "PERSONAL_MOBILE", default, with = "lenient::empty_as_none")]
    pub personal_mobile: Option<String>,
    /// `PERSONAL_PAGER`: pager.
    #[serde(rename = "PERSONAL_PAGER", default, with = "lenient::empty_as_none")]
    pub personal_pager: Option<String>,
    /// `PERSONAL_STREET`: home address.
    #[serde(rename = "PERSONAL_STREET", default, with = "lenient::empty_as_none")]
    pub personal_street: Option<String>,
    /// `PERSONAL_CITY`: home city.
    #[serde(rename = "PERSONAL_CITY", default, with = "lenient::empty_as_none")]
    pub personal_city: Option<String>,
    /// `PERSONAL_STATE`: home region.
    #[serde(rename = "PERSONAL_STATE", default, with = "lenient::empty_as_none")]
    pub personal_state: Option<String>,
    /// `PERSONAL_ZIP`: home postal code.
    #[serde(rename = "PERSONAL_ZIP", default, with = "lenient::empty_as_none")]
    pub personal_zip: Option<String>,
    /// `PERSONAL_COUNTRY`: home country.
    #[serde(rename = "PERSONAL_COUNTRY", default, with = "lenient::empty_as_none")]
    pub personal_country: Option<String>,
    /// `WORK_PHONE`: work phone.
    #[serde(rename = "WORK_PHONE", default, with = "lenient::empty_as_none")]
    pub work_phone: Option<String>,
    /// `WORK_COMPANY`: company.
    #[serde(rename = "WORK_COMPANY", default, with = "lenient::empty_as_none")]
    pub work_company: Option<String>,
    /// `WORK_POSITION`: job title.
    #[serde(rename = "WORK_POSITION", default, with = "lenient::empty_as_none")]
    pub work_position: Option<String>,
    /// `WORK_DEPARTMENT`: department (text).
    #[serde(rename = "WORK_DEPARTMENT", default, with = "lenient::empty_as_none")]
    pub work_department: Option<String>,
    /// `WORK_WWW`: company web site.
    #[serde(rename = "WORK_WWW", default, with = "lenient::empty_as_none")]
    pub work_www: Option<String>,
    /// `WORK_FAX`: work fax.
    #[serde(rename = "WORK_FAX", default, with = "lenient::empty_as_none")]
    pub work_fax: Option<String>,
    /// `WORK_STREET`: work address.
    #[serde(rename = "WORK_STREET", default, with = "lenient::empty_as_none")]
    pub work_street: Option<String>,
    /// `WORK_CITY`: work city.
    #[serde(rename = "WORK_CITY", default, with = "lenient::empty_as_none")]
    pub work_city: Option<String>,
    /// `WORK_STATE`: work region.
    #[serde(rename = "WORK_STATE", default, with = "lenient::empty_as_none")]
    pub work_state: Option<String>,
    /// `WORK_ZIP`: work postal code.
    #[serde(rename = "WORK_ZIP", default, with = "lenient::empty_as_none")]
    pub work_zip: Option<String>,
    /// `WORK_COUNTRY`: work country.
    #[serde(rename = "WORK_COUNTRY", default, with = "lenient::empty_as_none")]
    pub work_country: Option<String>,
    /// `WORK_PROFILE`: company profile.
    #[serde(rename = "WORK_PROFILE", default, with = "lenient::empty_as_none")]
    pub work_profile: Option<String>,
    /// `WORK_NOTES`: work notes.
    #[serde(rename = "WORK_NOTES", default, with = "lenient::empty_as_none")]
    pub work_notes: Option<String>,
    /// Every other field, verbatim: user fields (`UF_*`) and fields this SDK does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(User);

impl User {
    /// A user field (`UF_…`) or any other field this model leaves in [`User::extra`].
    pub fn uf(&self, name: &str) -> Option<&Value> {
        self.extra.get(name)
    }

    /// The user's departments (`UF_DEPARTMENT`), empty when not returned.
    pub fn departments(&self) -> Vec<Id> {
        match self.extra.get("UF_DEPARTMENT") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|item| serde_json::from_value(item.clone()).ok())
                .collect(),
            Some(single) => serde_json::from_value(single.clone()).into_iter().collect(),
            None => Vec::new(),
        }
    }

    /// The first and last name joined with a space (either may be missing).
    pub fn full_name(&self) -> String {
        [self.name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Identified for User {
    fn row_id(&self) -> Option<u64> {
        Some(self.id.get())
    }
}

string_enum! {
    /// The kind of account (`USER_TYPE`).
    pub enum UserType {
        /// `employee`: an intranet user.
        Employee = "employee",
        /// `extranet`: an external user of extranet groups.
        Extranet = "extranet",
        /// `email`: a user who only receives e-mail.
        Email = "email",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn user_fields_stay_readable() {
        let user: User = serde_json::from_value(json!({
            "ID": "3", "ACTIVE": true, "NAME": "Ivan", "LAST_NAME": "Ivanov",
            "TIMESTAMP_X": {}, "LAST_ACTIVITY_DATE": "2024-07-23 08:08:50",
            "UF_DEPARTMENT": [1, "7"], "UF_PHONE_INNER": "101", "USER_TYPE": "bot"
        }))
        .unwrap();
        assert_eq!(user.id, Id(3));
        assert_eq!(user.active, Some(true));
        assert_eq!(user.timestamp_x, None);
        assert_eq!(
            user.last_activity_date
                .as_ref()
                .unwrap()
                .parts()
                .unwrap()
                .hour,
            8
        );
        assert_eq!(user.departments(), vec![Id(1), Id(7)]);
        assert_eq!(user.uf("UF_PHONE_INNER"), Some(&json!("101")));
        assert_eq!(user.user_type, Some(UserType::Other("bot".into())));
        assert_eq!(user.full_name(), "Ivan Ivanov");
        assert_eq!(user.row_id(), Some(3));
    }
}
