//! [`Deal`]: a deal of `crm.deal.*`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::list::Identified;
use crate::types::{BxDateTime, Id, Semantic, lenient, via_value};

/// A deal, as `crm.deal.get` and `crm.deal.list` return it.
///
/// User fields (`UF_CRM_…`) and parent links (`PARENT_ID_…`) are in [`Deal::extra`]; read them
/// with [`Deal::uf`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct Deal {
    /// `ID`: the id.
    #[serde(rename = "ID")]
    pub id: Id,
    /// `TITLE`: the deal's title.
    #[serde(rename = "TITLE", default, with = "lenient::empty_as_none")]
    pub title: Option<String>,
    /// `TYPE_ID`: deal type code (`SALE`, `COMPLEX`, `SERVICE`, …).
    #[serde(rename = "TYPE_ID", default, with = "lenient::empty_as_none")]
    pub type_id: Option<String>,
    /// `CATEGORY_ID`: the pipeline (`0` is the default one).
    #[serde(rename = "CATEGORY_ID", default, with = "lenient::opt")]
    pub category_id: Option<Id>,
    /// `STAGE_ID`: stage code (`NEW`, `C9:UC_…`, `WON`, …).
    #[serde(rename = "STAGE_ID", default, with = "lenient::empty_as_none")]
    pub stage_id: Option<String>,
    /// `STAGE_SEMANTIC_ID`: whether the stage is in progress, won or lost.
    #[serde(rename = "STAGE_SEMANTIC_ID", default, with = "lenient::opt")]
    pub stage_semantic_id: Option<Semantic>,
    /// `IS_NEW`: whether the deal is in its first stage.
    #[serde(rename = "IS_NEW", default, with = "lenient::yes_no")]
    pub is_new: Option<bool>,
    /// `IS_RECURRING`: whether it is a recurring-deal template.
    #[serde(rename = "IS_RECURRING", default, with = "lenient::yes_no")]
    pub is_recurring: Option<bool>,
    /// `IS_RETURN_CUSTOMER`: whether it is a repeat deal of a known client.
    #[serde(rename = "IS_RETURN_CUSTOMER", default, with = "lenient::yes_no")]
    pub is_return_customer: Option<bool>,
    /// `IS_REPEATED_APPROACH`: whether the client came back with a repeat request.
    #[serde(rename = "IS_REPEATED_APPROACH", default, with = "lenient::yes_no")]
    pub is_repeated_approach: Option<bool>,
    /// `PROBABILITY`: probability of success, in percent.
    #[serde(rename = "PROBABILITY", default, with = "lenient::opt_i64")]
    pub probability: Option<i64>,
    /// `CURRENCY_ID`: currency code.
    #[serde(rename = "CURRENCY_ID", default, with = "lenient::empty_as_none")]
    pub currency_id: Option<String>,
    /// `OPPORTUNITY`: amount.
    #[serde(rename = "OPPORTUNITY", default, with = "lenient::opt_f64")]
    pub opportunity: Option<f64>,
    /// `IS_MANUAL_OPPORTUNITY`: whether the amount is typed in rather than computed from products.
    #[serde(rename = "IS_MANUAL_OPPORTUNITY", default, with = "lenient::yes_no")]
    pub is_manual_opportunity: Option<bool>,
    /// `TAX_VALUE`: tax amount.
    #[serde(rename = "TAX_VALUE", default, with = "lenient::opt_f64")]
    pub tax_value: Option<f64>,
    /// `LEAD_ID`: the lead it was converted from.
    #[serde(rename = "LEAD_ID", default, with = "lenient::opt")]
    pub lead_id: Option<Id>,
    /// `COMPANY_ID`: the client company (`0` when none).
    #[serde(rename = "COMPANY_ID", default, with = "lenient::opt")]
    pub company_id: Option<Id>,
    /// `CONTACT_ID`: the main client contact.
    #[serde(rename = "CONTACT_ID", default, with = "lenient::opt")]
    pub contact_id: Option<Id>,
    /// `QUOTE_ID`: the quote it was created from.
    #[serde(rename = "QUOTE_ID", default, with = "lenient::opt")]
    pub quote_id: Option<Id>,
    /// `BEGINDATE`: start date.
    #[serde(rename = "BEGINDATE", default, with = "lenient::opt")]
    pub begindate: Option<BxDateTime>,
    /// `CLOSEDATE`: expected close date.
    #[serde(rename = "CLOSEDATE", default, with = "lenient::opt")]
    pub closedate: Option<BxDateTime>,
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
    /// `CLOSED`: whether it is closed.
    #[serde(rename = "CLOSED", default, with = "lenient::yes_no")]
    pub closed: Option<bool>,
    /// `COMMENTS`: comment (BB-code).
    #[serde(rename = "COMMENTS", default, with = "lenient::empty_as_none")]
    pub comments: Option<String>,
    /// `ADDITIONAL_INFO`: additional information.
    #[serde(rename = "ADDITIONAL_INFO", default, with = "lenient::empty_as_none")]
    pub additional_info: Option<String>,
    /// `LOCATION_ID`: location (for tax calculation).
    #[serde(rename = "LOCATION_ID", default, with = "lenient::empty_as_none")]
    pub location_id: Option<String>,
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
    /// Every other field, verbatim: user fields (`UF_*`) and fields this SDK does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(Deal);

impl Deal {
    /// A user field (`UF_CRM_…`) or any other field this model leaves in [`Deal::extra`].
    pub fn uf(&self, name: &str) -> Option<&Value> {
        self.extra.get(name)
    }
}

impl Identified for Deal {
    fn row_id(&self) -> Option<u64> {
        Some(self.id.get())
    }
}
