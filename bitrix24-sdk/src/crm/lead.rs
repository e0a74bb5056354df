//! [`Lead`]: a lead of `crm.lead.*`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::list::Identified;
use crate::types::{BxDateTime, Id, MultiField, Semantic, lenient, via_value};

/// A lead, as `crm.lead.get` and `crm.lead.list` return it.
///
/// `crm.lead.list` returns only the selected fields (all but the multi-fields and user fields by
/// default); anything absent is `None` or empty. User fields (`UF_CRM_…`) are in
/// [`Lead::extra`]; read them with [`Lead::uf`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct Lead {
    /// `ID`: the id.
    #[serde(rename = "ID")]
    pub id: Id,
    /// `TITLE`: the lead's title.
    #[serde(rename = "TITLE", default, with = "lenient::empty_as_none")]
    pub title: Option<String>,
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
    /// `COMPANY_TITLE`: the company name typed into the lead.
    #[serde(rename = "COMPANY_TITLE", default, with = "lenient::empty_as_none")]
    pub company_title: Option<String>,
    /// `COMPANY_ID`: the linked company (`0` or absent when none).
    #[serde(rename = "COMPANY_ID", default, with = "lenient::opt")]
    pub company_id: Option<Id>,
    /// `CONTACT_ID`: the main linked contact.
    #[serde(rename = "CONTACT_ID", default, with = "lenient::opt")]
    pub contact_id: Option<Id>,
    /// `IS_RETURN_CUSTOMER`: whether it is a repeat lead of a known client.
    #[serde(rename = "IS_RETURN_CUSTOMER", default, with = "lenient::yes_no")]
    pub is_return_customer: Option<bool>,
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
    /// `STATUS_ID`: stage code (`NEW`, `IN_PROCESS`, `CONVERTED`, `JUNK`, custom …).
    #[serde(rename = "STATUS_ID", default, with = "lenient::empty_as_none")]
    pub status_id: Option<String>,
    /// `STATUS_DESCRIPTION`: more about the stage.
    #[serde(
        rename = "STATUS_DESCRIPTION",
        default,
        with = "lenient::empty_as_none"
    )]
    pub status_description: Option<String>,
    /// `STATUS_SEMANTIC_ID`: whether the stage is in progress, won or lost.
    #[serde(rename = "STATUS_SEMANTIC_ID", default, with = "lenient::opt")]
    pub status_semantic_id: Option<Semantic>,
    /// `COMMENTS`: comment (BB-code).
    #[serde(rename = "COMMENTS", default, with = "lenient::empty_as_none")]
    pub comments: Option<String>,
    /// `CURRENCY_ID`: currency code.
    #[serde(rename = "CURRENCY_ID", default, with = "lenient::empty_as_none")]
    pub currency_id: Option<String>,
    /// `OPPORTUNITY`: expected amount.
    #[serde(rename = "OPPORTUNITY", default, with = "lenient::opt_f64")]
    pub opportunity: Option<f64>,
    /// `IS_MANUAL_OPPORTUNITY`: whether the amount is typed in rather than computed from products.
    #[serde(rename = "IS_MANUAL_OPPORTUNITY", default, with = "lenient::yes_no")]
    pub is_manual_opportunity: Option<bool>,
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
    /// `DATE_CLOSED`: when it was closed.
    #[serde(rename = "DATE_CLOSED", default, with = "lenient::opt")]
    pub date_closed: Option<BxDateTime>,
    /// `OPENED`: whether every user may see it.
    #[serde(rename = "OPENED", default, with = "lenient::yes_no")]
    pub opened: Option<bool>,
    /// `ORIGINATOR_ID`: the external system it was imported from.
    #[serde(rename = "ORIGINATOR_ID", default, with = "lenient::empty_as_none")]
    pub originator_id: Option<String>,
    /// `ORIGIN_ID`: its id in that external system.
    #[serde(rename = "ORIGIN_ID", default, with = "lenient::empty_as_none")]
    pub origin_id: Option<String>,
    /// `MOVED_BY_ID`: who moved it to its current stage.
    #[serde(rename = "MOVED_BY_ID", default, with = "lenient::opt")]
    pub moved_by_id: Option<Id>,
    /// `MOVED_TIME`: when it moved to its current stage.
    #[serde(rename = "MOVED_TIME", default, with = "lenient::opt")]
    pub moved_time: Option<BxDateTime>,
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

via_value!(Lead);

impl Lead {
    /// A user field (`UF_CRM_…`) or any other field this model leaves in [`Lead::extra`].
    pub fn uf(&self, name: &str) -> Option<&Value> {
        self.extra.get(name)
    }
}

impl Identified for Lead {
    fn row_id(&self) -> Option<u64> {
        Some(self.id.get())
    }
}
