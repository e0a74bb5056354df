//! [`Item`]: a record of the universal `crm.item.*` API.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::list::Identified;
use crate::types::{BxDateTime, Id, MultiField, Semantic, lenient, via_value};

/// An item of the universal CRM API, as `crm.item.get`, `crm.item.list`, `crm.item.add` and
/// `crm.item.update` return it (inside [`ItemEnvelope`] / [`ItemsPage`]).
///
/// One type serves every entity type (`entityTypeId`: 1 lead, 2 deal, 3 contact, 4 company,
/// 7 quote, 31 invoice, 128+ smart processes), so most fields are `None` for a given type. Field
/// names are camelCase; user fields (`ufCrm…`) and parent links (`parentId<entityTypeId>`) are in
/// [`Item::extra`] (see [`Item::uf`] and [`Item::parent_id`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct Item {
    /// `id`: the id.
    pub id: Id,
    /// `entityTypeId`: the entity type (1 lead, 2 deal, 3 contact, 4 company, 128+ smart process).
    #[serde(rename = "entityTypeId", default, with = "lenient::opt_u64")]
    pub entity_type_id: Option<u64>,
    /// `categoryId`: the pipeline.
    #[serde(rename = "categoryId", default, with = "lenient::opt")]
    pub category_id: Option<Id>,
    /// `title`: title.
    #[serde(default, with = "lenient::empty_as_none")]
    pub title: Option<String>,
    /// `xmlId`: external code.
    #[serde(rename = "xmlId", default, with = "lenient::empty_as_none")]
    pub xml_id: Option<String>,
    /// `stageId`: stage code.
    #[serde(rename = "stageId", default, with = "lenient::empty_as_none")]
    pub stage_id: Option<String>,
    /// `stageSemanticId`: whether the stage is in progress, won or lost.
    #[serde(rename = "stageSemanticId", default, with = "lenient::opt")]
    pub stage_semantic_id: Option<Semantic>,
    /// `previousStageId`: the stage before the current one.
    #[serde(rename = "previousStageId", default, with = "lenient::empty_as_none")]
    pub previous_stage_id: Option<String>,
    /// `typeId`: type code (deals, contacts).
    #[serde(rename = "typeId", default, with = "lenient::empty_as_none")]
    pub type_id: Option<String>,
    /// `name`: first name (leads, contacts).
    #[serde(default, with = "lenient::empty_as_none")]
    pub name: Option<String>,
    /// `secondName`: middle name.
    #[serde(rename = "secondName", default, with = "lenient::empty_as_none")]
    pub second_name: Option<String>,
    /// `lastName`: last name.
    #[serde(rename = "lastName", default, with = "lenient::empty_as_none")]
    pub last_name: Option<String>,
    /// `honorific`: salutation code.
    #[serde(default, with = "lenient::empty_as_none")]
    pub honorific: Option<String>,
    /// `post`: job title.
    #[serde(default, with = "lenient::empty_as_none")]
    pub post: Option<String>,
    /// `birthdate`: date of birth.
    #[serde(default, with = "lenient::opt")]
    pub birthdate: Option<BxDateTime>,
    /// `companyTitle`: the company name typed into a lead.
    #[serde(rename = "companyTitle", default, with = "lenient::empty_as_none")]
    pub company_title: Option<String>,
    /// `createdBy`: who created it.
    #[serde(rename = "createdBy", default, with = "lenient::opt")]
    pub created_by: Option<Id>,
    /// `updatedBy`: who changed it last.
    #[serde(rename = "updatedBy", default, with = "lenient::opt")]
    pub updated_by: Option<Id>,
    /// `movedBy`: who moved it to its current stage.
    #[serde(rename = "movedBy", default, with = "lenient::opt")]
    pub moved_by: Option<Id>,
    /// `assignedById`: the responsible user.
    #[serde(rename = "assignedById", default, with = "lenient::opt")]
    pub assigned_by_id: Option<Id>,
    /// `createdTime`: when it was created.
    #[serde(rename = "createdTime", default, with = "lenient::opt")]
    pub created_time: Option<BxDateTime>,
    /// `updatedTime`: when it was changed last.
    #[serde(rename = "updatedTime", default, with = "lenient::opt")]
    pub updated_time: Option<BxDateTime>,
    /// `movedTime`: when it moved to its current stage.
    #[serde(rename = "movedTime", default, with = "lenient::opt")]
    pub moved_time: Option<BxDateTime>,
    /// `begindate`: start date.
    #[serde(default, with = "lenient::opt")]
    pub begindate: Option<BxDateTime>,
    /// `closedate`: expected close date.
    #[serde(default, with = "lenient::opt")]
    pub closedate: Option<BxDateTime>,
    /// `dateClosed`: when it was closed (leads).
    #[serde(rename = "dateClosed", default, with = "lenient::opt")]
    pub date_closed: Option<BxDateTime>,
    /// `opened`: whether every user may see it.
    #[serde(default, with = "lenient::yes_no")]
    pub opened: Option<bool>,
    /// `closed`: whether it is closed.
    #[serde(default, with = "lenient::yes_no")]
    pub closed: Option<bool>,
    /// `isNew`: whether it is in its first stage (deals).
    #[serde(rename = "isNew", default, with = "lenient::yes_no")]
    pub is_new: Option<bool>,
    /// `isReturnCustomer`: whether it is a repeat request of a known client.
    #[serde(rename = "isReturnCustomer", default, with = "lenient::yes_no")]
    pub is_return_customer: Option<bool>,
    /// `isRepeatedApproach`: whether the client came back with a repeat request.
    #[serde(rename = "isRepeatedApproach", default, with = "lenient::yes_no")]
    pub is_repeated_approach: Option<bool>,
    /// `isRecurring`: whether it is a recurring-deal template.
    #[serde(rename = "isRecurring", default, with = "lenient::yes_no")]
    pub is_recurring: Option<bool>,
    /// `isManualOpportunity`: whether the amount is typed in rather than computed from products.
    #[serde(rename = "isManualOpportunity", default, with = "lenient::yes_no")]
    pub is_manual_opportunity: Option<bool>,
    /// `opportunity`: amount.
    #[serde(default, with = "lenient::opt_f64")]
    pub opportunity: Option<f64>,
    /// `taxValue`: tax amount.
    #[serde(rename = "taxValue", default, with = "lenient::opt_f64")]
    pub tax_value: Option<f64>,
    /// `currencyId`: currency code.
    #[serde(rename = "currencyId", default, with = "lenient::empty_as_none")]
    pub currency_id: Option<String>,
    /// `probability`: probability of success, in percent.
    #[serde(default, with = "lenient::opt_i64")]
    pub probability: Option<i64>,
    /// `companyId`: the client company (`0` when none).
    #[serde(rename = "companyId", default, with = "lenient::opt")]
    pub company_id: Option<Id>,
    /// `contactId`: the main client contact.
    #[serde(rename = "contactId", default, with = "lenient::opt")]
    pub contact_id: Option<Id>,
    /// `contactIds`: every linked contact.
    #[serde(rename = "contactIds", default, with = "lenient::seq")]
    pub contact_ids: Vec<Id>,
    /// `leadId`: the lead it was converted from.
    #[serde(rename = "leadId", default, with = "lenient::opt")]
    pub lead_id: Option<Id>,
    /// `quoteId`: the quote it was created from.
    #[serde(rename = "quoteId", default, with = "lenient::opt")]
    pub quote_id: Option<Id>,
    /// `mycompanyId`: the portal's own company on documents.
    #[serde(rename = "mycompanyId", default, with = "lenient::opt")]
    pub mycompany_id: Option<Id>,
    /// `sourceId`: source code.
    #[serde(rename = "sourceId", default, with = "lenient::empty_as_none")]
    pub source_id: Option<String>,
    /// `sourceDescription`: more about the source.
    #[serde(rename = "sourceDescription", default, with = "lenient::empty_as_none")]
    pub source_description: Option<String>,
    /// `comments`: comment (BB-code).
    #[serde(default, with = "lenient::empty_as_none")]
    pub comments: Option<String>,
    /// `additionalInfo`: additional information.
    #[serde(rename = "additionalInfo", default, with = "lenient::empty_as_none")]
    pub additional_info: Option<String>,
    /// `webformId`: the CRM form that created it.
    #[serde(rename = "webformId", default, with = "lenient::opt")]
    pub webform_id: Option<Id>,
    /// `originatorId`: the external system it was imported from.
    #[serde(rename = "originatorId", default, with = "lenient::empty_as_none")]
    pub originator_id: Option<String>,
    /// `originId`: its id in that external system.
    #[serde(rename = "originId", default, with = "lenient::empty_as_none")]
    pub origin_id: Option<String>,
    /// `observers`: observers (user ids).
    #[serde(default, with = "lenient::seq")]
    pub observers: Vec<Id>,
    /// `lastActivityBy`: who had the last activity with it.
    #[serde(rename = "lastActivityBy", default, with = "lenient::opt")]
    pub last_activity_by: Option<Id>,
    /// `lastActivityTime`: when the last activity happened.
    #[serde(rename = "lastActivityTime", default, with = "lenient::opt")]
    pub last_activity_time: Option<BxDateTime>,
    /// `hasPhone`: whether a phone number is filled in.
    #[serde(rename = "hasPhone", default, with = "lenient::yes_no")]
    pub has_phone: Option<bool>,
    /// `hasEmail`: whether an e-mail address is filled in.
    #[serde(rename = "hasEmail", default, with = "lenient::yes_no")]
    pub has_email: Option<bool>,
    /// `hasImol`: whether an open-line chat is linked.
    #[serde(rename = "hasImol", default, with = "lenient::yes_no")]
    pub has_imol: Option<bool>,
    /// `utmSource`: `utm_source`.
    #[serde(rename = "utmSource", default, with = "lenient::empty_as_none")]
    pub utm_source: Option<String>,
    /// `utmMedium`: `utm_medium`.
    #[serde(rename = "utmMedium", default, with = "lenient::empty_as_none")]
    pub utm_medium: Option<String>,
    /// `utmCampaign`: `utm_campaign`.
    #[serde(rename = "utmCampaign", default, with = "lenient::empty_as_none")]
    pub utm_campaign: Option<String>,
    /// `utmContent`: `utm_content`.
    #[serde(rename = "utmContent", default, with = "lenient::empty_as_none")]
    pub utm_content: Option<String>,
    /// `utmTerm`: `utm_term`.
    #[serde(rename = "utmTerm", default, with = "lenient::empty_as_none")]
    pub utm_term: Option<String>,
    /// `fm`: multi-fields (phones, e-mails, sites, messengers) of leads, contacts and companies.
    #[serde(default, with = "lenient::seq")]
    pub fm: Vec<MultiField>,
    /// Every other field, verbatim: user fields (`ufCrm…`), parent links (`parentId…`) and fields this SDK does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(Item);

impl Item {
    /// A user field (`ufCrm…`) or any other field this model leaves in [`Item::extra`].
    pub fn uf(&self, name: &str) -> Option<&Value> {
        self.extra.get(name)
    }

    /// The linked parent record of the given entity type (`parentId<entityTypeId>`), if set.
    pub fn parent_id(&self, entity_type_id: u64) -> Option<Id> {
        let value = self.extra.get(&format!("parentId{entity_type_id}"))?;
        let id: Id = serde_json::from_value(value.clone()).ok()?;
        (id.get() != 0).then_some(id)
    }
}

impl Identified for Item {
    fn row_id(&self) -> Option<u64> {
        Some(self.id.get())
    }
}

/// `{"item": {…}}`: the `result` of `crm.item.get`, `crm.item.add` and `crm.item.update`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ItemEnvelope {
    /// `item`: the item.
    pub item: Item,
}

/// `{"items": […]}`: the `result` of `crm.item.list` (one page).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ItemsPage {
    /// `items`: the page's rows.
    #[serde(default, with = "lenient::seq")]
    pub items: Vec<Item>,
}
