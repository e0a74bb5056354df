//! [`Contact`]: a contact of `crm.contact.*`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::list::Identified;
use crate::types::{BxDateTime, Id, MultiField, lenient, via_value};

/// A contact, as `crm.contact.get` and `crm.contact.list` return it.
///
/// User fields (`UF_CRM_…`) and parent links (`PARENT_ID_…`) are in [`Contact::extra`]; read them
/// with [`Contact::uf`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct Contact {
    /// `ID`: the id.
    #[serde(rename = "ID")]
    pub id: Id,
    /// `HONORIFIC`: salutation code (`crm.status.list` with `HONORIFIC`).
    #[serde(rename = "HONORIFIC", default, with = "lenient::empty_as_none")]
    pub honorific: Option<String>,
    /// `NAME`: first name.
    #[serde(rename = "NAME", default, with = "lenient::empty_as_none")]
    pub name: Option<String>,
    /// `SECOND_NAME`: middle name.
    #[serde(rename = "SECOND_NAME", default, with = "lenient::empty_as_none")]
    pub second_name: Option<String>,
    /// `LAST_NAME`: last name.
    #[serde(rename = "LAST_NAME", default, with = "lenient::empty_as_none")]
    pub last_name: Option<String>,
    /// `BIRTHDATE`: date of birth.
    #[serde(rename = "BIRTHDATE", default, with = "lenient::opt")]
    pub birthdate: Option<BxDateTime>,
    /// `POST`: job title.
    #[serde(rename = "POST", default, with = "lenient::empty_as_none")]
    pub post: Option<String>,
    /// `PHOTO`: the photo: an object with `id`, `showUrl` and `downloadUrl`, when set.
    #[serde(rename = "PHOTO", default)]
    pub photo: Option<Value>,
    /// `TYPE_ID`: contact type code (`CLIENT`, `SUPPLIER`, `PARTNER`, …).
    #[serde(rename = "TYPE_ID", default, with = "lenient::empty_as_none")]
    pub type_id: Option<String>,
    /// `SOURCE_ID`: source code (`crm.status.list` with `SOURCE`).
    #[serde(rename = "SOURCE_ID", default, with = "lenient::empty_as_none")]
    pub source_id: Option<String>,
    /// `SOURCE_DESCRIPTION`: more about the source.
    #[serde(
        rename = "SOURCE_DESCRIPTION",
        default,
        with = "lenient::empty_as_none"
    )]
    pub source_description: Option<String>,
    /// `LEAD_ID`: the lead it was converted from.
    #[serde(rename = "LEAD_ID", default, with = "lenient::opt")]
    pub lead_id: Option<Id>,
    /// `COMPANY_ID`: the main linked company.
    #[serde(rename = "COMPANY_ID", default, with = "lenient::opt")]
    pub company_id: Option<Id>,
    /// `COMMENTS`: comment (BB-code).
    #[serde(rename = "COMMENTS", default, with = "lenient::empty_as_none")]
    pub comments: Option<String>,
    /// `EXPORT`: whether it is included in exports.
    #[serde(rename = "EXPORT", default, with = "lenient::yes_no")]
    pub export: Option<bool>,
    /// `HAS_PHONE`: whether a phone number is filled in.
    #[serde(rename = "HAS_PHONE", default, with = "lenient::yes_no")]
    pub has_phone: Option<bool>,
    /// `HAS_EMAIL`: whether an e-mail address is filled in.
    #[serde(rename = "HAS_EMAIL", default, with = "lenient::yes_no")]
    pub has_email: Option<bool>,
    /// `HAS_IMOL`: whether an open-line chat is linked.
    #[serde(rename = "HAS_IMOL", default, with = "lenient::yes_no")]
    pub has_imol: Option<bool>,
    /// `ASSIGNED_BY_ID`: the responsible user.
    #[serde(rename = "ASSIGNED_BY_ID", default, with = "lenient::opt")]
    pub assigned_by_id: Option<Id>,
    /// `CREATED_BY_ID`: who created it.
    #[serde(rename = "CREATED_BY_ID", default, with = "lenient::opt")]
    pub created_by_id: Option<Id>,
    /// `MODIFY_BY_ID`: who changed it last.
    #[serde(rename = "MODIFY_BY_ID", default, with = "lenient::opt")]
    pub modify_by_id: Option<Id>,
    /// `DATE_CREATE`: when it was created.
    #[serde(rename = "DATE_CREATE", default, with = "lenient::opt")]
    pub date_create: Option<BxDateTime>,
    /// `DATE_MODIFY`: when it was changed last.
    #[serde(rename = "DATE_MODIFY", default, with = "lenient::opt")]
    pub date_modify: Option<BxDateTime>,
    /// `OPENED`: whether every user may see it.
    #[serde(rename = "OPENED", default, with = "lenient::yes_no")]
    pub opened: Option<bool>,
    /// `ORIGINATOR_ID`: the external system it was imported from.
    #[serde(rename = "ORIGINATOR_ID", default, with = "lenient::empty_as_none")]
    pub originator_id: Option<String>,
    /// `ORIGIN_ID`: its id in that external system.
    #[serde(rename = "ORIGIN_ID", default, with = "lenient::empty_as_none")]
    pub origin_id: Option<String>,
    /// `ORIGIN_VERSION`: its version in that external system.
    #[serde(rename = "ORIGIN_VERSION", default, with = "lenient::empty_as_none")]
    pub origin_version: Option<String>,
    /// `FACE_ID`: the face-tracker photo id.
    #[serde(rename = "FACE_ID", default, with = "lenient::opt")]
    pub face_id: Option<Id>,
    /// `ADDRESS`: street, house and flat.
    #[serde(rename = "ADDRESS", default, with = "lenient::empty_as_none")]
    pub address: Option<String>,
    /// `ADDRESS_2`: the second address line.
    #[serde(rename = "ADDRESS_2", default, with = "lenient::empty_as_none")]
    pub address_2: Option<String>,
    /// `ADDRESS_CITY`: city.
    #[serde(rename = "ADDRESS_CITY", default, with = "lenient::empty_as_none")]
    pub address_city: Option<String>,
    /// `ADDRESS_POSTAL_CODE`: postal code.
    #[serde(
        rename = "ADDRESS_POSTAL_CODE",
        default,
        with = "lenient::empty_as_none"
    )]
    pub address_postal_code: Option<String>,
    /// `ADDRESS_REGION`: district.
    #[serde(rename = "ADDRESS_REGION", default, with = "lenient::empty_as_none")]
    pub address_region: Option<String>,
    /// `ADDRESS_PROVINCE`: region or province.
    #[serde(rename = "ADDRESS_PROVINCE", default, with = "lenient::empty_as_none")]
    pub address_province: Option<String>,
    /// `ADDRESS_COUNTRY`: country.
    #[serde(rename = "ADDRESS_COUNTRY", default, with = "lenient::empty_as_none")]
    pub address_country: Option<String>,
    /// `ADDRESS_COUNTRY_CODE`: country code.
    #[serde(
        rename = "ADDRESS_COUNTRY_CODE",
        default,
        with = "lenient::empty_as_none"
    )]
    pub address_country_code: Option<String>,
    /// `ADDRESS_LOC_ADDR_ID`: the address's id in the location module.
    #[serde(rename = "ADDRESS_LOC_ADDR_ID", default, with = "lenient::opt")]
    pub address_loc_addr_id: Option<Id>,
    /// `UTM_SOURCE`: `utm_source` of the visit that brought the client.
    #[serde(rename = "UTM_SOURCE", default, with = "lenient::empty_as_none")]
    pub utm_source: Option<String>,
    /// `UTM_MEDIUM`: `utm_medium` (traffic type: CPC, CPM, …).
    #[serde(rename = "UTM_MEDIUM", default, with = "lenient::empty_as_none")]
    pub utm_medium: Option<String>,
    /// `UTM_CAMPAIGN`: `utm_campaign`.
    #[serde(rename = "UTM_CAMPAIGN", default, with = "lenient::empty_as_none")]
    pub utm_campaign: Option<String>,
    /// `UTM_CONTENT`: `utm_content`.
    #[serde(rename = "UTM_CONTENT", default, with = "lenient::empty_as_none")]
    pub utm_content: Option<String>,
    /// `UTM_TERM`: `utm_term`.
    #[serde(rename = "UTM_TERM", default, with = "lenient::empty_as_none")]
    pub utm_term: Option<String>,
    /// `LAST_ACTIVITY_BY`: who had the last activity with it.
    #[serde(rename = "LAST_ACTIVITY_BY", default, with = "lenient::opt")]
    pub last_activity_by: Option<Id>,
    /// `LAST_ACTIVITY_TIME`: when the last activity happened.
    #[serde(rename = "LAST_ACTIVITY_TIME", default, with = "lenient::opt")]
    pub last_activity_time: Option<BxDateTime>,
    /// `PHONE`: phone numbers (empty unless selected or present).
    #[serde(rename = "PHONE", default, with = "lenient::seq")]
    pub phone: Vec<MultiField>,
    /// `EMAIL`: e-mail addresses.
    #[serde(rename = "EMAIL", default, with = "lenient::seq")]
    pub email: Vec<MultiField>,
    /// `WEB`: web sites.
    #[serde(rename = "WEB", default, with = "lenient::seq")]
    pub web: Vec<MultiField>,
    /// `IM`: messengers and open-line chats.
    #[serde(rename = "IM", default, with = "lenient::seq")]
    pub im: Vec<MultiField>,
    /// `LINK`: links to records in other systems.
    #[serde(rename = "LINK", default, with = "lenient::seq")]
    pub link: Vec<MultiField>,
    /// Every other field, verbatim: user fields (`UF_*`) and fields this SDK does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(Contact);

impl Contact {
    /// A user field (`UF_CRM_…`) or any other field this model leaves in [`Contact::extra`].
    pub fn uf(&self, name: &str) -> Option<&Value> {
        self.extra.get(name)
    }
}

impl Identified for Contact {
    fn row_id(&self) -> Option<u64> {
        Some(self.id.get())
    }
}
