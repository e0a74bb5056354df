//! [`Company`]: a company of `crm.company.*`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::list::Identified;
use crate::types::{BxDateTime, Id, MultiField, lenient, via_value};

/// A company, as `crm.company.get` and `crm.company.list` return it.
///
/// User fields (`UF_CRM_…`) and parent links (`PARENT_ID_…`) are in [`Company::extra`]; read them
/// with [`Company::uf`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct Company {
    /// `ID`: the id.
    #[serde(rename = "ID")]
    pub id: Id,
    /// `TITLE`: the company name.
    #[serde(rename = "TITLE", default, with = "lenient::empty_as_none")]
    pub title: Option<String>,
    /// `COMPANY_TYPE`: company type code (`CUSTOMER`, `SUPPLIER`, `PARTNER`, …).
    #[serde(rename = "COMPANY_TYPE", default, with = "lenient::empty_as_none")]
    pub company_type: Option<String>,
    /// `LOGO`: the logo: an object with `id`, `showUrl` and `downloadUrl`, when set.
    #[serde(rename = "LOGO", default)]
    pub logo: Option<Value>,
    /// `LEAD_ID`: the lead it was converted from.
    #[serde(rename = "LEAD_ID", default, with = "lenient::opt")]
    pub lead_id: Option<Id>,
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
    /// `BANKING_DETAILS`: bank details (deprecated: use requisites).
    #[serde(rename = "BANKING_DETAILS", default, with = "lenient::empty_as_none")]
    pub banking_details: Option<String>,
    /// `INDUSTRY`: industry code.
    #[serde(rename = "INDUSTRY", default, with = "lenient::empty_as_none")]
    pub industry: Option<String>,
    /// `REVENUE`: annual revenue.
    #[serde(rename = "REVENUE", default, with = "lenient::opt_f64")]
    pub revenue: Option<f64>,
    /// `CURRENCY_ID`: currency of the revenue.
    #[serde(rename = "CURRENCY_ID", default, with = "lenient::empty_as_none")]
    pub currency_id: Option<String>,
    /// `EMPLOYEES`: head-count range code (`EMPLOYEES_1`, …).
    #[serde(rename = "EMPLOYEES", default, with = "lenient::empty_as_none")]
    pub employees: Option<String>,
    /// `COMMENTS`: comment (BB-code).
    #[serde(rename = "COMMENTS", default, with = "lenient::empty_as_none")]
    pub comments: Option<String>,
    /// `OPENED`: whether every user may see it.
    #[serde(rename = "OPENED", default, with = "lenient::yes_no")]
    pub opened: Option<bool>,
    /// `IS_MY_COMPANY`: whether it is one of the portal's own companies.
    #[serde(rename = "IS_MY_COMPANY", default, with = "lenient::yes_no")]
    pub is_my_company: Option<bool>,
    /// `ORIGINATOR_ID`: the external system it was imported from.
    #[serde(rename = "ORIGINATOR_ID", default, with = "lenient::empty_as_none")]
    pub originator_id: Option<String>,
    /// `ORIGIN_ID`: its id in that external system.
    #[serde(rename = "ORIGIN_ID", default, with = "lenient::empty_as_none")]
    pub origin_id: Option<String>,
    /// `ORIGIN_VERSION`: its version in that external system.
    #[serde(rename = "ORIGIN_VERSION", default, with = "lenient::empty_as_none")]
    pub origin_version: Option<String>,
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
    /// `ADDRESS_LEGAL`: legal address (deprecated: use requisites).
    #[serde(rename = "ADDRESS_LEGAL", default, with = "lenient::empty_as_none")]
    pub address_legal: Option<String>,
    /// `REG_ADDRESS`: registered address: street, house and office.
    #[serde(rename = "REG_ADDRESS", default, with = "lenient::empty_as_none")]
    pub reg_address: Option<String>,
    /// `REG_ADDRESS_2`: registered address, second line.
    #[serde(rename = "REG_ADDRESS_2", default, with = "lenient::empty_as_none")]
    pub reg_address_2: Option<String>,
    /// `REG_ADDRESS_CITY`: registered address: city.
    #[serde(rename = "REG_ADDRESS_CITY", default, with = "lenient::empty_as_none")]
    pub reg_address_city: Option<String>,
    /// `REG_ADDRESS_POSTAL_CODE`: registered address: postal code.
    #[serde(
        rename = "REG_ADDRESS_POSTAL_CODE",
        default,
        with = "lenient::empty_as_none"
    )]
    pub reg_address_postal_code: Option<String>,
    /// `REG_ADDRESS_REGION`: registered address: district.
    #[serde(
        rename = "REG_ADDRESS_REGION",
        default,
        with = "lenient::empty_as_none"
    )]
    pub reg_address_region: Option<String>,
    /// `REG_ADDRESS_PROVINCE`: registered address: region or province.
    #[serde(
        rename = "REG_ADDRESS_PROVINCE",
        default,
        with = "lenient::empty_as_none"
    )]
    pub reg_address_province: Option<String>,
    /// `REG_ADDRESS_COUNTRY`: registered address: country.
    #[serde(
        rename = "REG_ADDRESS_COUNTRY",
        default,
        with = "lenient::empty_as_none"
    )]
    pub reg_address_country: Option<String>,
    /// `REG_ADDRESS_COUNTRY_CODE`: registered address: country code.
    #[serde(
        rename = "REG_ADDRESS_COUNTRY_CODE",
        default,
        with = "lenient::empty_as_none"
    )]
    pub reg_address_country_code: Option<String>,
    /// `REG_ADDRESS_LOC_ADDR_ID`: registered address: its id in the location module.
    #[serde(rename = "REG_ADDRESS_LOC_ADDR_ID", default, with = "lenient::opt")]
    pub reg_address_loc_addr_id: Option<Id>,
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
    /// `LAST_COMMUNICATION_TIME`: when the last communication happened.
    #[serde(rename = "LAST_COMMUNICATION_TIME", default, with = "lenient::opt")]
    pub last_communication_time: Option<BxDateTime>,
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
    /// Every other field, verbatim: user fields (`UF_*`) and fields this SDK does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(Company);

impl Company {
    /// A user field (`UF_CRM_…`) or any other field this model leaves in [`Company::extra`].
    pub fn uf(&self, name: &str) -> Option<&Value> {
        self.extra.get(name)
    }
}

impl Identified for Company {
    fn row_id(&self) -> Option<u64> {
        Some(self.id.get())
    }
}
