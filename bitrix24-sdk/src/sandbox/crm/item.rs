//! `crm.item.*`, the universal CRM methods (api-reference/crm/universal/crm-item-*.md).
//!
//! For leads, deals, contacts and companies (`entityTypeId` 1–4) they read and write the very
//! rows the old `crm.lead.*` methods do, stored the old way (`UPPER_SNAKE` columns, numbers as
//! strings), and present them the new way: camelCase keys, ids and amounts as JSON numbers,
//! multi-fields as `fm`. Smart processes (`entityTypeId` >= 128) get a table each, created on
//! first use. Field names are accepted in camelCase, as the item's `upperName`, or as the old
//! column name; user fields as `ufCrm…` or `UF_CRM_…`.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::entity::Entity;
use super::files::{self, FileOwner};
use super::{COMPANY, CONTACT, CrmState, DEAL, LEAD};
use crate::sandbox::list::{Cond, ListShape, Table, list, parse_filter, parse_start};
use crate::sandbox::params::{value_bool, value_i64, value_str, value_u64};
use crate::sandbox::registry::{Ctx, Registry};
use crate::sandbox::reply::{Fail, Outcome, Reply};

/// How a field's stored text is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// An integer, `null` when unset.
    Int,
    /// A link to another item: an integer, `0` when unset.
    Link,
    Double,
    Text,
    /// `Y` or `N`.
    Flag,
    DateTime,
    Date,
    /// A list of integers (`observers`, `contactIds`).
    Ids,
    File,
    /// `searchContent`, built from the other fields.
    Search,
    /// Always `null`: fields the sandbox does not model, present so replies have the
    /// documented keys.
    Absent,
}

/// One field of an item type, as `crm.item.fields` describes it and `crm.item.get` returns it.
#[derive(Debug, Clone, Copy)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "one flag per attribute `crm.item.fields` reports"
)]
struct ItemField {
    /// The camelCase name.
    name: &'static str,
    /// Where it is stored (the old CRM column for types 1–4).
    column: &'static str,
    kind: Kind,
    /// The type `crm.item.fields` reports; empty for fields it does not list.
    ty: &'static str,
    title: &'static str,
    read_only: bool,
    required: bool,
    multiple: bool,
    deprecated: bool,
    /// The column to show when `column` is unset (`movedTime` falls back to the creation date).
    fallback: &'static str,
    /// `statusType`; `DYNAMIC` stands for the smart process's own stage list.
    status: Option<&'static str>,
    /// `settings`, as JSON text.
    settings: Option<&'static str>,
}

const fn f(
    name: &'static str,
    column: &'static str,
    kind: Kind,
    ty: &'static str,
    title: &'static str,
) -> ItemField {
    ItemField {
        name,
        column,
        kind,
        ty,
        title,
        read_only: false,
        required: false,
        multiple: matches!(kind, Kind::Ids),
        deprecated: false,
        fallback: "",
        status: None,
        settings: None,
    }
}

const fn absent(name: &'static str) -> ItemField {
    f(name, "", Kind::Absent, "", "")
}

impl ItemField {
    const fn ro(mut self) -> Self {
        self.read_only = true;
        self
    }

    const fn or(mut self, fallback: &'static str) -> Self {
        self.fallback = fallback;
        self
    }

    const fn status(mut self, status: &'static str) -> Self {
        self.status = Some(status);
        self
    }

    const fn settings(mut self, settings: &'static str) -> Self {
        self.settings = Some(settings);
        self
    }

    const fn deprecated(mut self) -> Self {
        self.deprecated = true;
        self
    }

    const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    const fn multiple(mut self) -> Self {
        self.multiple = true;
        self
    }

    fn stored(&self) -> bool {
        !matches!(self.kind, Kind::Absent | Kind::Search)
    }
}

#[rustfmt::skip]
const HEAD: &[ItemField] = &[
    f("id", "ID", Kind::Int, "integer", "ID").ro(),
    f("createdTime", "DATE_CREATE", Kind::DateTime, "datetime", "Created on").ro(),
    absent("dateCreateShort"),
    f("updatedTime", "DATE_MODIFY", Kind::DateTime, "datetime", "Modified on").ro(),
    absent("dateModifyShort"),
    f("createdBy", "CREATED_BY_ID", Kind::Int, "user", "Created by").ro(),
    f("updatedBy", "MODIFY_BY_ID", Kind::Int, "user", "Modified by").ro(),
    f("assignedById", "ASSIGNED_BY_ID", Kind::Int, "user", "Responsible person"),
    f("opened", "OPENED", Kind::Flag, "boolean", "Available to everyone"),
];

#[rustfmt::skip]
const ACTIVITY: &[ItemField] = &[
    f("movedBy", "MOVED_BY_ID", Kind::Int, "user", "Moved by").ro().or("CREATED_BY_ID"),
    f("movedTime", "MOVED_TIME", Kind::DateTime, "datetime", "Moved on").ro().or("DATE_CREATE"),
    f("lastActivityBy", "LAST_ACTIVITY_BY", Kind::Int, "user", "Last activity by").ro().or("CREATED_BY_ID"),
    f("lastActivityTime", "LAST_ACTIVITY_TIME", Kind::DateTime, "datetime", "Last activity").ro().or("DATE_CREATE"),
];

#[rustfmt::skip]
const ORIGIN: &[ItemField] = &[
    f("originatorId", "ORIGINATOR_ID", Kind::Text, "string", "External source"),
    f("originId", "ORIGIN_ID", Kind::Text, "string", "Item ID in the external source"),
    f("webformId", "WEBFORM_ID", Kind::Link, "integer", "Created by CRM form"),
    f("searchContent", "", Kind::Search, "", ""),
];

#[rustfmt::skip]
const UTM: &[ItemField] = &[
    f("utmSource", "UTM_SOURCE", Kind::Text, "string", "Ad system"),
    f("utmMedium", "UTM_MEDIUM", Kind::Text, "string", "Traffic type"),
    f("utmCampaign", "UTM_CAMPAIGN", Kind::Text, "string", "Ad campaign"),
    f("utmContent", "UTM_CONTENT", Kind::Text, "string", "Campaign contents"),
    f("utmTerm", "UTM_TERM", Kind::Text, "string", "Campaign search term"),
    f("observers", "OBSERVERS", Kind::Ids, "user", "Observers"),
];

#[rustfmt::skip]
const COMMUNICATION: &[ItemField] = &[
    f("hasPhone", "HAS_PHONE", Kind::Flag, "boolean", "Has phone").ro(),
    f("hasEmail", "HAS_EMAIL", Kind::Flag, "boolean", "Has e-mail").ro(),
    f("hasImol", "HAS_IMOL", Kind::Flag, "boolean", "Has open line").ro(),
];

#[rustfmt::skip]
const LEAD_OWN: &[ItemField] = &[
    f("companyId", "COMPANY_ID", Kind::Link, "crm_company", "Company"),
    f("contactId", "CONTACT_ID", Kind::Link, "crm_contact", "Contact").deprecated(),
    f("stageId", "STATUS_ID", Kind::Text, "crm_status", "Stage").status("STATUS"),
    absent("isConvert"),
    f("statusDescription", "STATUS_DESCRIPTION", Kind::Text, "text", "Stage information"),
    f("stageSemanticId", "STATUS_SEMANTIC_ID", Kind::Text, "string", "Stage semantics").ro(),
    absent("productId"),
    f("opportunity", "OPPORTUNITY", Kind::Double, "double", "Amount"),
    f("currencyId", "CURRENCY_ID", Kind::Text, "crm_currency", "Currency"),
    f("sourceId", "SOURCE_ID", Kind::Text, "crm_status", "Source").status("SOURCE"),
    f("sourceDescription", "SOURCE_DESCRIPTION", Kind::Text, "text", "Source information"),
    f("title", "TITLE", Kind::Text, "string", "Lead name"),
    f("name", "NAME", Kind::Text, "string", "First name"),
    f("lastName", "LAST_NAME", Kind::Text, "string", "Last name"),
    f("secondName", "SECOND_NAME", Kind::Text, "string", "Second name"),
    absent("shortName"),
    f("companyTitle", "COMPANY_TITLE", Kind::Text, "string", "Company name"),
    f("post", "POST", Kind::Text, "string", "Position"),
    f("address", "ADDRESS", Kind::Text, "string", "Address"),
    f("comments", "COMMENTS", Kind::Text, "text", "Comment"),
    f("dateClosed", "DATE_CLOSED", Kind::DateTime, "datetime", "Closed on").ro(),
    f("birthdate", "BIRTHDATE", Kind::Date, "date", "Date of birth"),
    f("honorific", "HONORIFIC", Kind::Text, "crm_status", "Salutation").status("HONORIFIC"),
    absent("login"),
    f("isReturnCustomer", "IS_RETURN_CUSTOMER", Kind::Flag, "boolean", "Repeat lead").ro(),
    f("isManualOpportunity", "IS_MANUAL_OPPORTUNITY", Kind::Flag, "boolean", "Manual amount"),
    f("contactIds", "CONTACT_IDS", Kind::Ids, "crm_contact", "Contacts"),
];

#[rustfmt::skip]
const DEAL_OWN: &[ItemField] = &[
    f("leadId", "LEAD_ID", Kind::Int, "crm_lead", "Lead"),
    f("companyId", "COMPANY_ID", Kind::Link, "crm_company", "Company").settings(r#"{"parentEntityTypeId":4}"#),
    f("contactId", "CONTACT_ID", Kind::Link, "crm_contact", "Contact").deprecated(),
    f("quoteId", "QUOTE_ID", Kind::Int, "crm_quote", "Quote"),
    f("title", "TITLE", Kind::Text, "string", "Name"),
    absent("productId"),
    f("categoryId", "CATEGORY_ID", Kind::Link, "crm_category", "Pipeline"),
    f("stageId", "STAGE_ID", Kind::Text, "crm_status", "Stage").status("DEAL_STAGE"),
    f("stageSemanticId", "STAGE_SEMANTIC_ID", Kind::Text, "string", "Stage group").ro(),
    f("isNew", "IS_NEW", Kind::Flag, "boolean", "New deal").ro(),
    f("isRecurring", "IS_RECURRING", Kind::Flag, "boolean", "Recurring deal"),
    f("isReturnCustomer", "IS_RETURN_CUSTOMER", Kind::Flag, "boolean", "Repeat deal"),
    f("isRepeatedApproach", "IS_REPEATED_APPROACH", Kind::Flag, "boolean", "Repeated inquiry"),
    f("closed", "CLOSED", Kind::Flag, "boolean", "Closed"),
    f("typeId", "TYPE_ID", Kind::Text, "crm_status", "Type").status("DEAL_TYPE"),
    f("opportunity", "OPPORTUNITY", Kind::Double, "double", "Amount"),
    f("isManualOpportunity", "IS_MANUAL_OPPORTUNITY", Kind::Flag, "boolean", "Manual amount"),
    f("taxValue", "TAX_VALUE", Kind::Double, "double", "Tax amount"),
    f("currencyId", "CURRENCY_ID", Kind::Text, "crm_currency", "Currency"),
    f("probability", "PROBABILITY", Kind::Int, "integer", "Probability"),
    f("comments", "COMMENTS", Kind::Text, "text", "Comment"),
    f("begindate", "BEGINDATE", Kind::Date, "date", "Start date"),
    absent("begindateShort"),
    f("closedate", "CLOSEDATE", Kind::Date, "date", "End date"),
    absent("closedateShort"),
    absent("eventDate"),
    absent("eventDateShort"),
    absent("eventId"),
    absent("eventDescription"),
    f("locationId", "LOCATION_ID", Kind::Text, "location", "Location"),
    f("sourceId", "SOURCE_ID", Kind::Text, "crm_status", "Source").status("SOURCE"),
    f("sourceDescription", "SOURCE_DESCRIPTION", Kind::Text, "text", "Source information"),
    f("additionalInfo", "ADDITIONAL_INFO", Kind::Text, "string", "Additional information"),
    absent("orderStage"),
    absent("isWork"),
    absent("isWon"),
    absent("isLose"),
    absent("receivedAmount"),
    absent("lostAmount"),
    absent("hasProducts"),
    f("contactIds", "CONTACT_IDS", Kind::Ids, "crm_contact", "Contacts"),
];

#[rustfmt::skip]
const CONTACT_OWN: &[ItemField] = &[
    f("honorific", "HONORIFIC", Kind::Text, "crm_status", "Salutation").status("HONORIFIC"),
    f("name", "NAME", Kind::Text, "string", "First name"),
    f("secondName", "SECOND_NAME", Kind::Text, "string", "Second name"),
    f("lastName", "LAST_NAME", Kind::Text, "string", "Last name"),
    absent("fullName"),
    f("photo", "PHOTO", Kind::File, "file", "Photo"),
    f("birthdate", "BIRTHDATE", Kind::Date, "date", "Date of birth"),
    f("typeId", "TYPE_ID", Kind::Text, "crm_status", "Contact type").status("CONTACT_TYPE"),
    f("sourceId", "SOURCE_ID", Kind::Text, "crm_status", "Source").status("SOURCE"),
    f("sourceDescription", "SOURCE_DESCRIPTION", Kind::Text, "text", "Source information"),
    f("post", "POST", Kind::Text, "string", "Position"),
    f("address", "ADDRESS", Kind::Text, "string", "Address"),
    f("comments", "COMMENTS", Kind::Text, "text", "Comment"),
    f("export", "EXPORT", Kind::Flag, "boolean", "Included in export"),
    f("companyId", "COMPANY_ID", Kind::Link, "crm_company", "Company").deprecated(),
    f("companyIds", "COMPANY_IDS", Kind::Ids, "crm_company", "Companies"),
    f("leadId", "LEAD_ID", Kind::Int, "crm_lead", "Lead"),
    f("originVersion", "ORIGIN_VERSION", Kind::Text, "string", "Original version"),
];

#[rustfmt::skip]
const COMPANY_OWN: &[ItemField] = &[
    f("title", "TITLE", Kind::Text, "string", "Company name"),
    f("typeId", "COMPANY_TYPE", Kind::Text, "crm_status", "Company type").status("COMPANY_TYPE"),
    f("logo", "LOGO", Kind::File, "file", "Logo"),
    f("address", "ADDRESS", Kind::Text, "string", "Address"),
    f("bankingDetails", "BANKING_DETAILS", Kind::Text, "string", "Payment details"),
    f("industry", "INDUSTRY", Kind::Text, "crm_status", "Industry").status("INDUSTRY"),
    f("employees", "EMPLOYEES", Kind::Text, "crm_status", "Employees").status("EMPLOYEES"),
    f("currencyId", "CURRENCY_ID", Kind::Text, "crm_currency", "Currency"),
    f("revenue", "REVENUE", Kind::Double, "double", "Annual revenue"),
    f("comments", "COMMENTS", Kind::Text, "text", "Comment"),
    f("isMyCompany", "IS_MY_COMPANY", Kind::Flag, "boolean", "My company"),
    f("contactIds", "CONTACT_ID", Kind::Ids, "crm_contact", "Contacts"),
    f("leadId", "LEAD_ID", Kind::Int, "crm_lead", "Lead"),
    f("originVersion", "ORIGIN_VERSION", Kind::Text, "string", "Original version"),
];

#[rustfmt::skip]
const DYNAMIC_OWN: &[ItemField] = &[
    f("xmlId", "XML_ID", Kind::Text, "string", "External code"),
    f("title", "TITLE", Kind::Text, "string", "Name"),
    f("begindate", "BEGINDATE", Kind::Date, "date", "Start date"),
    f("closedate", "CLOSEDATE", Kind::Date, "date", "End date"),
    f("companyId", "COMPANY_ID", Kind::Link, "crm_company", "Company").settings(r#"{"parentEntityTypeId":4}"#),
    f("contactId", "CONTACT_ID", Kind::Link, "crm_contact", "Contact").deprecated(),
    f("contactIds", "CONTACT_IDS", Kind::Ids, "crm_contact", "CONTACT_IDS"),
    f("contacts", "", Kind::Absent, "crm_contact", "CONTACTS").multiple(),
    f("categoryId", "CATEGORY_ID", Kind::Link, "crm_category", "Pipeline"),
    f("stageId", "STAGE_ID", Kind::Text, "crm_status", "Stage").status("DYNAMIC"),
    f("previousStageId", "PREVIOUS_STAGE_ID", Kind::Text, "crm_status", "Previous stage").ro().status("DYNAMIC"),
    f("stageSemanticId", "STAGE_SEMANTIC_ID", Kind::Text, "string", "Stage semantics").ro(),
    f("sourceId", "SOURCE_ID", Kind::Text, "crm_status", "Source").status("SOURCE"),
    f("sourceDescription", "SOURCE_DESCRIPTION", Kind::Text, "text", "Source information"),
    f("currencyId", "CURRENCY_ID", Kind::Text, "crm_currency", "Currency"),
    f("isManualOpportunity", "IS_MANUAL_OPPORTUNITY", Kind::Flag, "boolean", "Amount calculation mode"),
    f("opportunity", "OPPORTUNITY", Kind::Double, "double", "Amount"),
    f("taxValue", "TAX_VALUE", Kind::Double, "double", "Tax amount"),
    f("mycompanyId", "MYCOMPANY_ID", Kind::Link, "crm_company", "Your company details").settings(r#"{"isMyCompany":true,"parentEntityTypeId":4,"isEmbeddedEditorEnabled":true}"#),
    f("parentId1", "PARENT_ID_1", Kind::Int, "crm_entity", "Lead").settings(r#"{"parentEntityTypeId":1}"#),
    f("parentId2", "PARENT_ID_2", Kind::Int, "crm_entity", "Deal").settings(r#"{"parentEntityTypeId":2}"#),
];

/// The smart process's `opened` is required (crm.item.fields example).
#[rustfmt::skip]
const DYNAMIC_HEAD: &[ItemField] = &[
    f("id", "ID", Kind::Int, "integer", "ID").ro(),
    f("createdTime", "DATE_CREATE", Kind::DateTime, "datetime", "Created on").ro(),
    f("updatedTime", "DATE_MODIFY", Kind::DateTime, "datetime", "Modified on").ro(),
    f("createdBy", "CREATED_BY_ID", Kind::Int, "user", "Created by").ro(),
    f("updatedBy", "MODIFY_BY_ID", Kind::Int, "user", "Modified by").ro(),
    f("assignedById", "ASSIGNED_BY_ID", Kind::Int, "user", "Responsible person"),
    f("opened", "OPENED", Kind::Flag, "boolean", "Available to everyone").required(),
    f("webformId", "WEBFORM_ID", Kind::Link, "integer", "Created by CRM form"),
    f("observers", "OBSERVERS", Kind::Ids, "user", "Observers"),
];

/// One item type: its fields, and where its rows live.
#[derive(Debug)]
struct ItemType {
    /// The old entity for types 1–4; `None` for smart processes.
    entity: Option<&'static Entity>,
    /// The default title's prefix: `Lead #13`.
    title: &'static str,
    groups: &'static [&'static [ItemField]],
    /// Leads, contacts and companies have phones and e-mails (`fm`).
    multifields: bool,
    /// Defaults on add beyond the old entity's.
    defaults: &'static [(&'static str, &'static str)],
}

static LEAD_ITEM: ItemType = ItemType {
    entity: Some(&LEAD),
    title: "Lead",
    groups: &[HEAD, LEAD_OWN, COMMUNICATION, ORIGIN, ACTIVITY, UTM],
    multifields: true,
    defaults: &[("IS_MANUAL_OPPORTUNITY", "N"), ("SOURCE_ID", "CALL")],
};

static DEAL_ITEM: ItemType = ItemType {
    entity: Some(&DEAL),
    title: "Deal",
    groups: &[HEAD, DEAL_OWN, ORIGIN, ACTIVITY, UTM],
    multifields: false,
    defaults: &[
        ("IS_MANUAL_OPPORTUNITY", "N"),
        ("IS_RECURRING", "N"),
        ("IS_RETURN_CUSTOMER", "N"),
        ("IS_REPEATED_APPROACH", "N"),
        ("TYPE_ID", "SALE"),
        ("SOURCE_ID", "CALL"),
        ("TAX_VALUE", "0.00"),
    ],
};

static CONTACT_ITEM: ItemType = ItemType {
    entity: Some(&CONTACT),
    title: "Contact",
    groups: &[HEAD, CONTACT_OWN, COMMUNICATION, ORIGIN, ACTIVITY, UTM],
    multifields: true,
    defaults: &[("SOURCE_ID", "CALL")],
};

static COMPANY_ITEM: ItemType = ItemType {
    entity: Some(&COMPANY),
    title: "Company",
    groups: &[HEAD, COMPANY_OWN, COMMUNICATION, ORIGIN, ACTIVITY, UTM],
    multifields: true,
    defaults: &[
        ("INDUSTRY", "IT"),
        ("EMPLOYEES", "EMPLOYEES_1"),
        ("REVENUE", "0.00"),
    ],
};

static DYNAMIC_ITEM: ItemType = ItemType {
    entity: None,
    title: "",
    groups: &[DYNAMIC_HEAD, DYNAMIC_OWN, ACTIVITY],
    multifields: false,
    defaults: &[
        ("OPENED", "Y"),
        ("STAGE_SEMANTIC_ID", "P"),
        ("CURRENCY_ID", "RUB"),
        ("OPPORTUNITY", "0.00"),
        ("TAX_VALUE", "0.00"),
        ("IS_MANUAL_OPPORTUNITY", "N"),
        ("SOURCE_ID", "CALL"),
    ],
};

/// The multi-field types, in the order `fm` lists them.
const MULTI_TYPES: [&str; 5] = ["PHONE", "EMAIL", "WEB", "IM", "LINK"];

/// The smallest `entityTypeId` of a smart process.
pub(crate) const DYNAMIC_START: u64 = 128;

/// The type an `entityTypeId` names, for the CRM's methods that take one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target {
    pub(crate) entity_type_id: u64,
    ty: &'static ItemType,
}

impl Target {
    /// Leads, deals, contacts, companies and smart processes; other types are not emulated.
    pub(crate) fn new(entity_type_id: u64) -> Option<Self> {
        let ty = match entity_type_id {
            1 => &LEAD_ITEM,
            2 => &DEAL_ITEM,
            3 => &CONTACT_ITEM,
            4 => &COMPANY_ITEM,
            id if id >= DYNAMIC_START => &DYNAMIC_ITEM,
            _ => return None,
        };
        Some(Self { entity_type_id, ty })
    }

    /// `lead`, `deal`, `contact`, `company`, `dynamic_<entityTypeId>`: the timeline's names.
    pub(crate) fn kind(&self) -> String {
        self.ty.entity.map_or_else(
            || format!("dynamic_{}", self.entity_type_id),
            |e| e.name.to_owned(),
        )
    }

    fn table<'a>(&self, crm: &'a mut CrmState) -> &'a mut Table {
        match self.ty.entity {
            Some(entity) => (entity.table)(crm),
            None => &mut crm.dynamic_type(self.entity_type_id).items,
        }
    }

    fn fields(&self) -> impl Iterator<Item = &'static ItemField> {
        self.ty.groups.iter().flat_map(|group| group.iter())
    }

    fn is_dynamic(&self) -> bool {
        self.ty.entity.is_none()
    }

    fn event(&self, action: &str, id: u64) -> (String, Value) {
        match self.ty.entity {
            Some(entity) => (
                format!("ONCRM{}{action}", entity.name.to_ascii_uppercase()),
                json!({ "FIELDS": { "ID": id } }),
            ),
            None => (
                format!("ONCRMDYNAMICITEM{action}"),
                json!({ "FIELDS": { "ID": id, "ENTITY_TYPE_ID": self.entity_type_id } }),
            ),
        }
    }

    /// What a field name in `fields`, `select`, `filter` or `order` refers to.
    fn resolve(&self, key: &str) -> Option<Resolved> {
        if let Some(field) = self.fields().find(|field| field.name == key) {
            return Some(Resolved::Field(field));
        }
        if key.eq_ignore_ascii_case("fm") {
            return Some(Resolved::Fm);
        }
        let upper = key.to_ascii_uppercase();
        if let Some(number) = upper
            .strip_prefix("PARENTID")
            .or_else(|| upper.strip_prefix("PARENT_ID_"))
            && let Ok(parent) = number.parse::<u64>()
        {
            return Some(Resolved::Parent(parent));
        }
        if let Some(field) = self.fields().find(|field| {
            field.kind != Kind::Absent
                && (field.name.eq_ignore_ascii_case(key)
                    || upper_snake(field.name) == upper
                    || (!field.column.is_empty() && field.column == upper))
        }) {
            return Some(Resolved::Field(field));
        }
        if upper.starts_with("UF_") {
            return Some(Resolved::Uf(upper));
        }
        if key.starts_with("uf") && key.len() > 2 {
            return Some(Resolved::Uf(uf_column(key)));
        }
        None
    }

    /// The stored column a filter or order key refers to.
    fn column(&self, key: &str) -> Option<String> {
        match self.resolve(key)? {
            Resolved::Field(field) if field.stored() => Some(field.column.to_owned()),
            Resolved::Uf(column) => Some(column),
            Resolved::Parent(parent) => Some(format!("PARENT_ID_{parent}")),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
enum Resolved {
    Field(&'static ItemField),
    Fm,
    Uf(String),
    Parent(u64),
}

/// `assignedById` → `ASSIGNED_BY_ID`, `parentId1220` → `PARENT_ID_1220`, `ufCrm2_16` → `UF_CRM_2_16`.
fn upper_snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut previous: Option<char> = None;
    for c in name.chars() {
        if let Some(p) = previous {
            let boundary = (c.is_ascii_uppercase()
                && (p.is_ascii_lowercase() || p.is_ascii_digit()))
                || (c.is_ascii_digit() && p.is_ascii_alphabetic());
            if boundary {
                out.push('_');
            }
        }
        out.push(c.to_ascii_uppercase());
        previous = Some(c);
    }
    out
}

/// A user field's column from its camelCase name: the part before the last `_` is camelCase,
/// the code after it is kept (`ufCrm_1721244707107` → `UF_CRM_1721244707107`).
fn uf_column(name: &str) -> String {
    match name.rsplit_once('_') {
        Some((head, code)) => format!("{}_{}", upper_snake(head), code.to_ascii_uppercase()),
        None => upper_snake(name),
    }
}

/// A user field's camelCase name, as `crm.item.*` shows it with `useOriginalUfNames=N`:
/// `UF_CRM_2_1639669411830` → `ufCrm2_1639669411830` (the form most of the docs' examples use).
fn uf_camel(column: &str) -> String {
    let (head, code) = column.rsplit_once('_').unwrap_or((column, ""));
    let mut out = String::new();
    for (index, part) in head.split('_').filter(|p| !p.is_empty()).enumerate() {
        let lower = part.to_ascii_lowercase();
        if index == 0 {
            out.push_str(&lower);
        } else {
            let mut chars = lower.chars();
            if let Some(first) = chars.next() {
                out.push(first.to_ascii_uppercase());
                out.push_str(chars.as_str());
            }
        }
    }
    if code.is_empty() {
        out
    } else {
        format!("{out}_{code}")
    }
}

fn type_not_found() -> Fail {
    Fail::bad_request("NOT_FOUND", "Smart process not found")
}

fn item_not_found() -> Fail {
    Fail::bad_request("NOT_FOUND", "Item not found")
}

/// The error of a missing controller parameter (`100`, "Could not find value for parameter
/// {fields}"), as the docs print it for other controller-based methods.
pub(crate) fn missing_parameter(name: &str) -> Fail {
    Fail::bad_request(
        "100",
        format!("Could not find value for parameter {{{name}}}"),
    )
}

fn invalid_value(field: &ItemField) -> Fail {
    Fail::bad_request(
        "CRM_FIELD_ERROR_VALUE_NOT_VALID",
        format!("Invalid value of field \"{}\"", field.title),
    )
}

fn php_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NULL",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "double",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn blank(value: &Value) -> bool {
    value.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty())
}

fn target_of(ctx: &Ctx<'_>) -> Result<Target, Fail> {
    let id = ctx.params.u64("entityTypeId").unwrap_or_default();
    Target::new(id).ok_or_else(type_not_found)
}

/// Everything a write needs besides the row.
struct Writer<'a> {
    target: Target,
    crm: &'a mut CrmState,
    author: u64,
    now: &'a str,
}

impl Writer<'_> {
    /// Writes `fields` into `row`. Unknown and read-only fields are ignored, as documented;
    /// a malformed value fails the whole write.
    fn write(
        &mut self,
        row: &mut Map<String, Value>,
        fields: &Map<String, Value>,
        creating: bool,
    ) -> Result<(), Fail> {
        let mut stage_written = false;
        let mut contact_ids_written = false;
        let mut contact_written = false;
        for (key, value) in fields {
            let Some(resolved) = self.target.resolve(key) else {
                continue;
            };
            match resolved {
                Resolved::Fm => {
                    if self.target.ty.multifields {
                        self.write_fm(row, value, creating);
                    }
                }
                Resolved::Uf(column) => self.write_uf(row, &column, value),
                Resolved::Parent(parent) => {
                    if blank(value) || value_u64(value) == Some(0) {
                        row.remove(&format!("PARENT_ID_{parent}"));
                    } else {
                        let id = value_u64(value).ok_or_else(|| {
                            Fail::bad_request(
                                "CRM_FIELD_ERROR_VALUE_NOT_VALID",
                                format!("Invalid value of field \"{key}\""),
                            )
                        })?;
                        row.insert(format!("PARENT_ID_{parent}"), Value::String(id.to_string()));
                    }
                }
                Resolved::Field(field) => {
                    if field.read_only || !field.stored() {
                        continue;
                    }
                    self.write_field(row, field, value)?;
                    stage_written |= field.name == "stageId";
                    contact_ids_written |= field.name == "contactIds";
                    contact_written |= field.name == "contactId";
                }
            }
        }
        if stage_written {
            self.after_stage_change(row);
        }
        // The deprecated single contact follows the list, as on the portal.
        if contact_ids_written
            && !contact_written
            && self
                .target
                .fields()
                .any(|f| f.column == "CONTACT_ID" && !f.multiple)
        {
            match row
                .get("CONTACT_IDS")
                .and_then(Value::as_array)
                .and_then(|ids| ids.first())
                .cloned()
            {
                Some(first) => row.insert("CONTACT_ID".into(), first),
                None => row.remove("CONTACT_ID"),
            };
        }
        if self.target.ty.multifields {
            for (flag, multi) in [
                ("HAS_PHONE", "PHONE"),
                ("HAS_EMAIL", "EMAIL"),
                ("HAS_IMOL", "IM"),
            ] {
                let has = row
                    .get(multi)
                    .and_then(Value::as_array)
                    .is_some_and(|items| !items.is_empty());
                row.insert(
                    flag.to_owned(),
                    Value::String(if has { "Y" } else { "N" }.into()),
                );
            }
        }
        Ok(())
    }

    fn write_field(
        &mut self,
        row: &mut Map<String, Value>,
        field: &ItemField,
        value: &Value,
    ) -> Result<(), Fail> {
        let column = field.column;
        if field.kind == Kind::File {
            let owner = FileOwner {
                kind: &self.target.kind(),
                owner_id: row.get("ID").and_then(value_u64).unwrap_or_default(),
                field: column,
                created: self.now,
                author_id: self.author,
            };
            match files::write_value(self.crm, value, row.get(column), &owner) {
                Some(Value::Null) => {
                    row.remove(column);
                }
                Some(stored) => {
                    row.insert(column.to_owned(), stored);
                }
                None if blank(value) => {
                    row.remove(column);
                }
                None => return Err(invalid_value(field)),
            }
            return Ok(());
        }
        if field.kind == Kind::Ids {
            let items = match value {
                Value::Null => {
                    row.remove(column);
                    return Ok(());
                }
                Value::Array(items) => items,
                other => {
                    return Err(Fail::bad_request(
                        "100",
                        format!(
                            "Expected iterable value for multiple field, but got {} instead",
                            php_type(other)
                        ),
                    ));
                }
            };
            let mut ids = Vec::with_capacity(items.len());
            for item in items {
                let id = value_u64(item).ok_or_else(|| invalid_value(field))?;
                ids.push(Value::String(id.to_string()));
            }
            row.insert(column.to_owned(), Value::Array(ids));
            return Ok(());
        }
        if blank(value) && field.kind != Kind::Text {
            row.remove(column);
            return Ok(());
        }
        let stored = match field.kind {
            Kind::Int | Kind::Link => value_i64(value).map(|n| n.to_string()),
            Kind::Double => value_str(value)
                .and_then(|s| s.trim().parse::<f64>().ok())
                .map(|n| format!("{n:.2}")),
            Kind::Flag => value_bool(value).map(|b| if b { "Y" } else { "N" }.to_owned()),
            Kind::Text | Kind::Date | Kind::DateTime => {
                if value.is_null() {
                    row.remove(column);
                    return Ok(());
                }
                value_str(value)
            }
            Kind::Ids | Kind::File | Kind::Search | Kind::Absent => None,
        };
        let stored = stored.ok_or_else(|| invalid_value(field))?;
        row.insert(column.to_owned(), Value::String(stored));
        Ok(())
    }

    fn write_uf(&mut self, row: &mut Map<String, Value>, column: &str, value: &Value) {
        let kind = self.target.kind();
        let owner = FileOwner {
            kind: &kind,
            owner_id: row.get("ID").and_then(value_u64).unwrap_or_default(),
            field: column,
            created: self.now,
            author_id: self.author,
        };
        match files::write_value(self.crm, value, row.get(column), &owner) {
            Some(Value::Null) => {
                row.remove(column);
            }
            Some(stored) => {
                row.insert(column.to_owned(), stored);
            }
            None if value.is_null() => {
                row.remove(column);
            }
            // User fields keep the JSON type they were written with.
            None => {
                row.insert(column.to_owned(), value.clone());
            }
        }
    }

    /// Applies `fm`: on add, a list of `{typeId, valueType, value}`; on update, an object whose
    /// keys `n0`, `n1`… add and whose numeric keys (or items' `id`) change, or delete with an
    /// empty `value` (crm-item-update.md). An unknown id adds, as documented.
    fn write_fm(&mut self, row: &mut Map<String, Value>, value: &Value, creating: bool) {
        let entries: Vec<(Option<&str>, &Value)> = match value {
            Value::Array(items) => items.iter().map(|item| (None, item)).collect(),
            Value::Object(map) => map.iter().map(|(k, v)| (Some(k.as_str()), v)).collect(),
            _ => return,
        };
        for (key, entry) in entries {
            let Some(entry) = entry.as_object() else {
                continue;
            };
            let get = |name: &str| {
                entry
                    .iter()
                    .find(|(k, _)| {
                        k.eq_ignore_ascii_case(name) || upper_snake(k) == upper_snake(name)
                    })
                    .map(|(_, v)| v)
            };
            let text = get("value")
                .and_then(value_str)
                .map(|s| s.trim().to_owned());
            let value_type = get("valueType")
                .and_then(value_str)
                .filter(|s| !s.is_empty());
            let type_id = get("typeId")
                .and_then(value_str)
                .map(|s| s.to_ascii_uppercase());
            let id = if creating {
                None
            } else {
                key.and_then(|k| k.parse::<u64>().ok())
                    .or_else(|| get("id").and_then(value_u64))
                    .filter(|id| *id > 0)
            };
            if let Some((column, at)) = id.and_then(|id| find_multifield(row, id)) {
                let Some(Value::Array(items)) = row.get_mut(&column) else {
                    continue;
                };
                if text.as_deref().is_none_or(str::is_empty) {
                    items.remove(at);
                    if items.is_empty() {
                        row.remove(&column);
                    }
                } else if let Some(Value::Object(item)) = items.get_mut(at) {
                    item.insert("VALUE".into(), Value::String(text.unwrap_or_default()));
                    if let Some(value_type) = value_type {
                        item.insert("VALUE_TYPE".into(), Value::String(value_type));
                    }
                }
                continue;
            }
            let (Some(text), Some(type_id)) = (text.filter(|t| !t.is_empty()), type_id) else {
                continue;
            };
            if !MULTI_TYPES.contains(&type_id.as_str()) {
                continue;
            }
            self.crm.last_multifield_id += 1;
            let item = json!({
                "ID": self.crm.last_multifield_id.to_string(),
                "VALUE_TYPE": value_type.unwrap_or_else(|| "WORK".into()),
                "VALUE": text,
                "TYPE_ID": type_id,
            });
            match row
                .entry(type_id)
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                Value::Array(items) => items.push(item),
                other => *other = Value::Array(vec![item]),
            }
        }
    }

    /// A new stage moves the item: its semantics, `closed`, and who moved it when.
    fn after_stage_change(&self, row: &mut Map<String, Value>) {
        let Some(field) = self.target.fields().find(|f| f.name == "stageId") else {
            return;
        };
        let stage = row
            .get(field.column)
            .and_then(value_str)
            .unwrap_or_default();
        let is_lead = self.target.ty.entity.is_some_and(|e| e.name == "lead");
        let semantic = stage_semantics(is_lead, &stage);
        if let Some(semantic_field) = self.target.fields().find(|f| f.name == "stageSemanticId") {
            row.insert(
                semantic_field.column.to_owned(),
                Value::String(semantic.to_owned()),
            );
        }
        if is_lead {
            match semantic {
                "P" => row.remove("DATE_CLOSED"),
                _ => row.insert("DATE_CLOSED".into(), Value::String(self.now.to_owned())),
            };
        }
        if self.target.fields().any(|f| f.column == "CLOSED") {
            row.insert(
                "CLOSED".into(),
                Value::String(if semantic == "P" { "N" } else { "Y" }.into()),
            );
        }
        row.insert("MOVED_TIME".into(), Value::String(self.now.to_owned()));
        row.insert("MOVED_BY_ID".into(), Value::String(self.author.to_string()));
    }
}

/// The semantics of a stage: `S` success, `F` failure, `P` in progress. Leads end in
/// `CONVERTED` or `JUNK`; deals and smart processes in `…WON`/`…SUCCESS` or
/// `…LOSE`/`…APOLOGY`/`…FAIL` (pipelines prefix them: `C1:WON`, `DT1038_10:FAIL`).
pub(crate) fn stage_semantics(is_lead: bool, stage: &str) -> &'static str {
    let stage = stage.trim().to_ascii_uppercase();
    let status = stage.rsplit(':').next().unwrap_or_default();
    match (is_lead, status) {
        (true, "CONVERTED") | (false, "WON" | "SUCCESS") => "S",
        (true, "JUNK") | (false, "LOSE" | "APOLOGY" | "FAIL") => "F",
        _ => "P",
    }
}

/// Where multi-field value `id` is: its column and position.
fn find_multifield(row: &Map<String, Value>, id: u64) -> Option<(String, usize)> {
    MULTI_TYPES.iter().find_map(|column| {
        let items = row.get(*column)?.as_array()?;
        let at = items
            .iter()
            .position(|item| item.get("ID").and_then(value_u64) == Some(id))?;
        Some(((*column).to_owned(), at))
    })
}

/// Which fields a `select` asks for: `None` for everything.
#[derive(Debug, Default)]
struct Selection {
    all: bool,
    names: BTreeSet<String>,
}

impl Selection {
    fn parse(target: &Target, select: Option<&Value>) -> Self {
        let names: Vec<String> = match select {
            Some(Value::Array(items)) => items.iter().filter_map(value_str).collect(),
            Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
            _ => Vec::new(),
        };
        let mut selection = Self {
            all: names.is_empty() || names.iter().any(|n| n == "*"),
            names: BTreeSet::new(),
        };
        for name in names {
            match target.resolve(&name) {
                Some(Resolved::Field(field)) => {
                    selection.names.insert(field.name.to_owned());
                }
                Some(Resolved::Uf(column)) => {
                    selection.names.insert(column);
                }
                Some(Resolved::Parent(parent)) => {
                    selection.names.insert(format!("parentId{parent}"));
                }
                // `fm` comes only with `*` (crm-item-list.md).
                Some(Resolved::Fm) | None => {}
            }
        }
        selection
    }

    fn everything() -> Self {
        Self {
            all: true,
            names: BTreeSet::new(),
        }
    }

    fn has(&self, name: &str) -> bool {
        self.all || name == "id" || self.names.contains(name)
    }
}

/// How rows are presented in one reply.
struct View<'a> {
    target: Target,
    base_url: &'a str,
    original_uf: bool,
    /// Smart processes that exist, for the `parentId<N>` fields.
    dynamic_ids: Vec<u64>,
}

impl View<'_> {
    fn new<'a>(ctx: &'a Ctx<'_>, target: Target) -> View<'a> {
        View {
            target,
            base_url: ctx.base_url.as_str(),
            original_uf: ctx.params.bool("useOriginalUfNames").unwrap_or(false),
            dynamic_ids: ctx.state.crm.dynamic.keys().copied().collect(),
        }
    }

    fn uf_key(&self, column: &str) -> String {
        if self.original_uf {
            column.to_owned()
        } else {
            uf_camel(column)
        }
    }

    fn present(&self, row: &Map<String, Value>, selection: &Selection) -> Value {
        let mut out = Map::new();
        for field in self.target.fields() {
            if field.ty.is_empty() && field.kind != Kind::Absent && field.kind != Kind::Search {
                continue;
            }
            // Fields `crm.item.fields` lists but items do not carry (`contacts`) are left out.
            let listed_only = field.kind == Kind::Absent && !field.ty.is_empty();
            if selection.has(field.name) && !listed_only {
                out.insert(field.name.to_owned(), self.value(row, field));
            }
        }
        if self.target.ty.multifields && selection.all {
            communications(row, &mut out);
        }
        for (column, value) in row.iter().filter(|(k, _)| k.starts_with("UF_")) {
            if selection.all || selection.names.contains(column) {
                let id = row.get("ID").and_then(value_u64).unwrap_or_default();
                let shown = if files::holds_files(Some(value)) {
                    files::item_ref(value, self.base_url, self.target.entity_type_id, id, column)
                } else {
                    value.clone()
                };
                out.insert(self.uf_key(column), shown);
            }
        }
        for parent in self.parents(row) {
            let name = format!("parentId{parent}");
            if selection.has(&name) && !out.contains_key(&name) {
                let value = row
                    .get(&format!("PARENT_ID_{parent}"))
                    .and_then(value_i64)
                    .map_or(Value::Null, |n| json!(n));
                out.insert(name, value);
            }
        }
        if selection.all {
            out.insert("entityTypeId".into(), json!(self.target.entity_type_id));
        }
        Value::Object(out)
    }

    /// The parent types an item shows: every smart process, and those it is linked to.
    fn parents(&self, row: &Map<String, Value>) -> BTreeSet<u64> {
        let mut parents: BTreeSet<u64> = self
            .dynamic_ids
            .iter()
            .copied()
            .filter(|id| *id != self.target.entity_type_id)
            .collect();
        for column in row.keys() {
            if let Some(parent) = column
                .strip_prefix("PARENT_ID_")
                .and_then(|n| n.parse().ok())
            {
                parents.insert(parent);
            }
        }
        parents
    }

    fn value(&self, row: &Map<String, Value>, field: &ItemField) -> Value {
        let stored = row.get(field.column).filter(|v| !v.is_null()).or_else(|| {
            if field.fallback.is_empty() {
                None
            } else {
                row.get(field.fallback)
            }
        });
        match field.kind {
            Kind::Absent => Value::Null,
            Kind::Search => Value::String(search_content(row)),
            Kind::Int => stored.and_then(value_i64).map_or(Value::Null, |n| json!(n)),
            Kind::Link => json!(stored.and_then(value_i64).unwrap_or_default()),
            Kind::Double => stored
                .and_then(value_str)
                .and_then(|s| s.trim().parse::<f64>().ok())
                .map_or(Value::Null, number),
            Kind::Text | Kind::DateTime => stored
                .and_then(value_str)
                .map_or(Value::Null, Value::String),
            Kind::Date => stored
                .and_then(value_str)
                .map_or(Value::Null, |s| Value::String(date(&s))),
            Kind::Flag => Value::String(
                stored
                    .and_then(value_bool)
                    .map_or("N", |b| if b { "Y" } else { "N" })
                    .to_owned(),
            ),
            Kind::Ids => Value::Array(
                stored
                    .and_then(Value::as_array)
                    .map(|ids| ids.iter().filter_map(value_i64).map(|n| json!(n)).collect())
                    .unwrap_or_default(),
            ),
            Kind::File => stored.map_or(Value::Null, |value| {
                let id = row.get("ID").and_then(value_u64).unwrap_or_default();
                files::item_ref(
                    value,
                    self.base_url,
                    self.target.entity_type_id,
                    id,
                    field.column,
                )
            }),
        }
    }
}

/// A double as the portal prints it: `19000`, `999.99`.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        #[allow(clippy::cast_possible_truncation)]
        let whole = n as i64;
        json!(whole)
    } else {
        json!(n)
    }
}

/// Dates as the portal returns them: `2000-01-01T00:00:00+00:00`, also from the old methods'
/// `11.11.2001` and plain `2000-01-01`.
fn date(text: &str) -> String {
    let text = text.trim();
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let parts: Vec<&str> = text.split(['-', '.']).collect();
    match parts.as_slice() {
        [y, m, d] if text.contains('-') && y.len() == 4 && digits(y) && digits(m) && digits(d) => {
            format!("{y}-{m:0>2}-{d:0>2}T00:00:00+00:00")
        }
        [d, m, y] if text.contains('.') && y.len() == 4 && digits(y) && digits(m) && digits(d) => {
            format!("{y}-{m:0>2}-{d:0>2}T00:00:00+00:00")
        }
        _ => text.to_owned(),
    }
}

/// The portal's full-text index of an item, roughly: the id, names, amount, phones and mails.
fn search_content(row: &Map<String, Value>) -> String {
    let mut words: Vec<String> = Vec::new();
    for column in [
        "ID",
        "TITLE",
        "LAST_NAME",
        "NAME",
        "SECOND_NAME",
        "COMPANY_TITLE",
        "OPPORTUNITY",
        "CURRENCY_ID",
        "COMMENTS",
    ] {
        if let Some(text) = row
            .get(column)
            .and_then(value_str)
            .filter(|t| !t.is_empty())
        {
            words.push(text);
        }
    }
    for column in MULTI_TYPES {
        for item in row
            .get(column)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(text) = item.get("VALUE").and_then(value_str) {
                words.push(text);
            }
        }
    }
    words.join(" ")
}

/// `fm` and the per-type shortcuts (`phoneWork`, `email`…) of leads, contacts and companies.
fn communications(row: &Map<String, Value>, out: &mut Map<String, Value>) {
    let items = |column: &str| -> Vec<&Map<String, Value>> {
        row.get(column)
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_object).collect())
            .unwrap_or_default()
    };
    let text = |item: &Map<String, Value>, key: &str| {
        item.get(key).and_then(value_str).unwrap_or_default()
    };
    let first = |column: &str, value_type: Option<&str>| {
        items(column)
            .into_iter()
            .find(|item| {
                value_type.is_none_or(|t| text(item, "VALUE_TYPE").eq_ignore_ascii_case(t))
            })
            .map(|item| text(item, "VALUE"))
    };
    let shortcuts = [
        ("phoneMobile", "PHONE", Some("MOBILE")),
        ("phoneWork", "PHONE", Some("WORK")),
        ("phoneMailing", "PHONE", Some("MAILING")),
        ("emailHome", "EMAIL", Some("HOME")),
        ("emailWork", "EMAIL", Some("WORK")),
        ("emailMailing", "EMAIL", Some("MAILING")),
    ];
    for (name, column, value_type) in shortcuts {
        out.insert(
            name.into(),
            Value::String(first(column, value_type).unwrap_or_default()),
        );
    }
    out.insert(
        "skype".into(),
        first("IM", Some("SKYPE")).map_or(Value::Null, Value::String),
    );
    out.insert(
        "icq".into(),
        first("IM", Some("ICQ")).map_or(Value::Null, Value::String),
    );
    out.insert(
        "imol".into(),
        Value::String(
            first("IM", Some("IMOL"))
                .or_else(|| first("IM", Some("OPENLINE")))
                .unwrap_or_default(),
        ),
    );
    out.insert(
        "email".into(),
        Value::String(first("EMAIL", None).unwrap_or_default()),
    );
    out.insert(
        "phone".into(),
        Value::String(first("PHONE", None).unwrap_or_default()),
    );
    let mut fm = Vec::new();
    for column in MULTI_TYPES {
        for item in items(column) {
            fm.push(json!({
                "id": item.get("ID").and_then(value_u64).unwrap_or_default(),
                "valueType": text(item, "VALUE_TYPE"),
                "value": text(item, "VALUE"),
                "typeId": column,
            }));
        }
    }
    out.insert("fm".into(), Value::Array(fm));
}

fn fields_param(ctx: &Ctx<'_>) -> Result<Map<String, Value>, Fail> {
    match ctx.params.get("fields") {
        Some(Value::Object(map)) => Ok(map.clone()),
        // An empty form array arrives as an empty string or list.
        Some(Value::Array(items)) if items.is_empty() => Ok(Map::new()),
        Some(_) => Err(Fail::bad_request(
            "100",
            "Invalid value to match with parameter {fields}. Should be value of type array.",
        )),
        None => Err(missing_parameter("fields")),
    }
}

fn id_param(ctx: &Ctx<'_>) -> Result<u64, Fail> {
    match ctx.params.get("id") {
        None => Err(missing_parameter("id")),
        Some(value) => value_u64(value)
            .filter(|id| *id > 0)
            .ok_or_else(item_not_found),
    }
}

/// `crm.item.add`.
fn add(ctx: &mut Ctx<'_>) -> Outcome {
    let target = target_of(ctx)?;
    let fields = fields_param(ctx)?;
    let now = ctx.now_iso();
    let user = ctx.caller.user_id;
    let crm = &mut ctx.state.crm;
    let id = target.table(crm).next_id();
    let mut row = Map::new();
    row.insert("ID".into(), Value::String(id.to_string()));
    let defaults = target
        .ty
        .entity
        .map(|e| e.defaults)
        .unwrap_or_default()
        .iter()
        .chain(target.ty.defaults);
    for (column, value) in defaults {
        row.insert((*column).to_owned(), Value::String((*value).to_owned()));
    }
    if target.is_dynamic() {
        let category = crm.dynamic_type(target.entity_type_id).category_id;
        row.insert("CATEGORY_ID".into(), Value::String(category.to_string()));
        row.insert(
            "STAGE_ID".into(),
            Value::String(format!("DT{}_{category}:NEW", target.entity_type_id)),
        );
    }
    if target.fields().any(|f| f.column == "BEGINDATE") {
        let today = now.get(..10).unwrap_or_default().to_owned();
        row.insert("BEGINDATE".into(), Value::String(today));
    }
    for column in ["DATE_CREATE", "DATE_MODIFY"] {
        row.insert(column.into(), Value::String(now.clone()));
    }
    for column in ["CREATED_BY_ID", "MODIFY_BY_ID", "ASSIGNED_BY_ID"] {
        row.insert(column.into(), Value::String(user.to_string()));
    }
    Writer {
        target,
        crm: &mut *crm,
        author: user,
        now: &now,
    }
    .write(&mut row, &fields, true)?;
    let untitled = row
        .get("TITLE")
        .and_then(value_str)
        .is_none_or(|t| t.trim().is_empty());
    if untitled && target.fields().any(|f| f.name == "title") {
        let prefix = match target.ty.entity {
            Some(_) => target.ty.title.to_owned(),
            None => crm.dynamic_type(target.entity_type_id).title.clone(),
        };
        row.insert("TITLE".into(), Value::String(format!("{prefix} #{id}")));
    }
    target.table(crm).put(id, row);
    let (event, data) = target.event("ADD", id);
    ctx.emit(&event, data);
    item_reply(ctx, target, id)
}

fn item_reply(ctx: &mut Ctx<'_>, target: Target, id: u64) -> Outcome {
    let view = View::new(ctx, target);
    let row = ctx
        .state
        .crm
        .table(target.entity_type_id)
        .and_then(|t| t.get(id))
        .ok_or_else(item_not_found)?;
    Ok(Reply::new(
        json!({ "item": view.present(row, &Selection::everything()) }),
    ))
}

/// `crm.item.get`.
fn get(ctx: &mut Ctx<'_>) -> Outcome {
    let target = target_of(ctx)?;
    let id = id_param(ctx)?;
    target.table(&mut ctx.state.crm);
    item_reply(ctx, target, id)
}

/// `crm.item.update`.
fn update(ctx: &mut Ctx<'_>) -> Outcome {
    let target = target_of(ctx)?;
    let id = id_param(ctx)?;
    let fields = fields_param(ctx)?;
    let now = ctx.now_iso();
    let user = ctx.caller.user_id;
    let crm = &mut ctx.state.crm;
    let mut row = target.table(crm).remove(id).ok_or_else(item_not_found)?;
    let before = row.clone();
    if let Err(error) = (Writer {
        target,
        crm: &mut *crm,
        author: user,
        now: &now,
    })
    .write(&mut row, &fields, false)
    {
        target.table(crm).put(id, before);
        return Err(error);
    }
    row.insert("DATE_MODIFY".into(), Value::String(now));
    row.insert("MODIFY_BY_ID".into(), Value::String(user.to_string()));
    target.table(crm).put(id, row);
    let (event, data) = target.event("UPDATE", id);
    ctx.emit(&event, data);
    item_reply(ctx, target, id)
}

/// `crm.item.delete`: the result is an empty list (crm-item-delete.md).
fn delete(ctx: &mut Ctx<'_>) -> Outcome {
    let target = target_of(ctx)?;
    let id = id_param(ctx)?;
    let crm = &mut ctx.state.crm;
    target.table(crm).remove(id).ok_or_else(item_not_found)?;
    super::timeline::forget_owner(crm, &target.kind(), id);
    let (event, data) = target.event("DELETE", id);
    ctx.emit(&event, data);
    Ok(Reply::new(json!([])))
}

fn invalid_arg(description: String) -> Fail {
    Fail::bad_request("INVALID_ARG_VALUE", description)
}

fn translate(target: &Target, conds: Vec<Cond>) -> Result<Vec<Cond>, Fail> {
    conds
        .into_iter()
        .map(|cond| match cond {
            Cond::Field { field, op, value } => {
                let column = target.column(&field).ok_or_else(|| {
                    invalid_arg(format!(
                        "Invalid filter: field '{field}' is not allowed in filter"
                    ))
                })?;
                Ok(Cond::Field {
                    field: column,
                    op,
                    value,
                })
            }
            Cond::Group { any, conds } => Ok(Cond::Group {
                any,
                conds: translate(target, conds)?,
            }),
        })
        .collect()
}

fn order_param(target: &Target, order: Option<&Value>) -> Result<Vec<(String, bool)>, Fail> {
    let Some(Value::Object(map)) = order else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (field, direction) in map {
        let column = target.column(field).ok_or_else(|| {
            invalid_arg(format!(
                "Invalid order: field '{field}' is not allowed in order"
            ))
        })?;
        let direction = value_str(direction).unwrap_or_default();
        let desc = match direction.to_ascii_uppercase().as_str() {
            "ASC" => false,
            "DESC" => true,
            _ => {
                return Err(invalid_arg(format!(
                    "Invalid order: allowed sort directions are ASC, DESC. But got '{direction}' for field '{field}'"
                )));
            }
        };
        out.push((column, desc));
    }
    Ok(out)
}

/// `crm.item.list`: `{items: [...]}` with `total` and `next`.
fn list_items(ctx: &mut Ctx<'_>) -> Outcome {
    let target = target_of(ctx)?;
    let conds = translate(&target, parse_filter(ctx.params.get("filter"))?)?;
    let order = order_param(&target, ctx.params.get("order"))?;
    let selection = Selection::parse(&target, ctx.params.get("select"));
    let start = parse_start(ctx.params);
    target.table(&mut ctx.state.crm);
    let view = View::new(ctx, target);
    let table = ctx
        .state
        .crm
        .table(target.entity_type_id)
        .ok_or_else(type_not_found)?;
    let page = list(
        table,
        &conds,
        &order,
        start,
        ListShape {
            id_field: "ID",
            default_desc: false,
        },
    );
    let items: Vec<Value> = page
        .rows
        .iter()
        .map(|row| view.present(row, &selection))
        .collect();
    Ok(Reply::page(
        json!({ "items": items }),
        page.total,
        page.next,
        page.work,
    ))
}

/// `crm.item.fields`.
fn fields(ctx: &mut Ctx<'_>) -> Outcome {
    let target = target_of(ctx)?;
    let (category, parents, user_fields) = {
        let crm = &mut ctx.state.crm;
        let category = if target.is_dynamic() {
            crm.dynamic_type(target.entity_type_id).category_id
        } else {
            0
        };
        let parents: Vec<(u64, String)> = crm
            .dynamic
            .iter()
            .filter(|(id, _)| **id != target.entity_type_id)
            .map(|(id, t)| (*id, t.title.clone()))
            .collect();
        let mut user_fields = BTreeSet::new();
        if let Some(table) = crm.table(target.entity_type_id) {
            for row in table.rows.values() {
                user_fields.extend(row.keys().filter(|k| k.starts_with("UF_")).cloned());
            }
        }
        (category, parents, user_fields)
    };
    let original_uf = ctx.params.bool("useOriginalUfNames").unwrap_or(false);
    let mut out = Map::new();
    for field in target.fields().filter(|field| !field.ty.is_empty()) {
        let mut desc = describe(field.ty, field.title);
        for (flag, on) in [
            ("isReadOnly", field.read_only),
            ("isRequired", field.required),
            ("isMultiple", field.multiple),
        ] {
            desc.insert(flag.into(), json!(on));
        }
        desc.insert("upperName".into(), json!(upper_snake(field.name)));
        if field.deprecated {
            desc.insert("isDeprecated".into(), json!(true));
        }
        if let Some(status) = field.status {
            let status = if status == "DYNAMIC" {
                format!("DYNAMIC_{}_STAGE_{category}", target.entity_type_id)
            } else {
                status.to_owned()
            };
            desc.insert("statusType".into(), json!(status));
        }
        if let Some(settings) = field
            .settings
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
        {
            desc.insert("settings".into(), settings);
        }
        out.insert(field.name.to_owned(), Value::Object(desc));
    }
    for (parent, title) in parents {
        let name = format!("parentId{parent}");
        if out.contains_key(&name) {
            continue;
        }
        let mut desc = describe("crm_entity", &title);
        desc.insert("settings".into(), json!({ "parentEntityTypeId": parent }));
        desc.insert("upperName".into(), json!(format!("PARENT_ID_{parent}")));
        out.insert(name, Value::Object(desc));
    }
    for column in user_fields {
        let mut desc = describe("string", &column);
        desc.insert("isDynamic".into(), json!(true));
        desc.insert("upperName".into(), json!(column));
        out.insert(
            if original_uf {
                column.clone()
            } else {
                uf_camel(&column)
            },
            Value::Object(desc),
        );
    }
    Ok(Reply::new(json!({ "fields": out })))
}

/// A field's description; the flags are switched on by the caller.
fn describe(ty: &str, title: &str) -> Map<String, Value> {
    let Value::Object(map) = json!({
        "type": ty,
        "isRequired": false,
        "isReadOnly": false,
        "isImmutable": false,
        "isMultiple": false,
        "isDynamic": false,
        "title": title,
    }) else {
        return Map::new();
    };
    map
}

/// Registers `crm.item.*`.
pub(crate) fn register(registry: &mut Registry) {
    registry.method("crm.item.add", add);
    registry.method("crm.item.get", get);
    registry.method("crm.item.list", list_items);
    registry.method("crm.item.update", update);
    registry.method("crm.item.delete", delete);
    registry.method("crm.item.fields", fields);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::crm::testing::{call, ok};
    use crate::sandbox::state::State;

    #[test]
    fn stages_carry_their_semantics_through_both_apis() {
        assert_eq!(stage_semantics(false, "C1:WON"), "S");
        assert_eq!(stage_semantics(false, "DT1038_10:FAIL"), "F");
        assert_eq!(stage_semantics(true, "converted"), "S");
        assert_eq!(stage_semantics(true, "IN_PROCESS"), "P");
        let mut state = State::default();
        ok(
            &mut state,
            add,
            json!({ "entityTypeId": 1, "fields": { "title": "L" } }),
        );
        let item = ok(
            &mut state,
            update,
            json!({ "entityTypeId": 1, "id": 1, "fields": { "stageId": "JUNK" } }),
        )["item"]
            .clone();
        assert_eq!(item["stageSemanticId"], "F");
        assert!(item["dateClosed"].is_string());
        ok(
            &mut state,
            add,
            json!({ "entityTypeId": 2, "fields": { "stageId": "WON" } }),
        );
        assert_eq!(
            (
                state.crm.deals.rows[&1]["STAGE_SEMANTIC_ID"].as_str(),
                state.crm.deals.rows[&1]["CLOSED"].as_str()
            ),
            (Some("S"), Some("Y"))
        );
    }

    #[test]
    fn names_convert_both_ways() {
        assert_eq!(upper_snake("assignedById"), "ASSIGNED_BY_ID");
        assert_eq!(upper_snake("parentId1220"), "PARENT_ID_1220");
        assert_eq!(upper_snake("mycompanyId"), "MYCOMPANY_ID");
        assert_eq!(uf_column("ufCrm_1721244707107"), "UF_CRM_1721244707107");
        assert_eq!(uf_column("ufCrm2_1639669411830"), "UF_CRM_2_1639669411830");
        assert_eq!(uf_camel("UF_CRM_2_1639669411830"), "ufCrm2_1639669411830");
        assert_eq!(uf_camel("UF_CRM_1721244707107"), "ufCrm_1721244707107");
        assert_eq!(date("11.11.2001"), "2001-11-11T00:00:00+00:00");
        assert_eq!(date("2000-01-01"), "2000-01-01T00:00:00+00:00");
        assert_eq!(
            date("2000-01-01T02:00:00+02:00"),
            "2000-01-01T02:00:00+02:00"
        );
    }

    #[test]
    fn items_are_old_crm_rows() {
        let mut state = State::default();
        let (outcome, emitted) = call(
            &mut state,
            add,
            json!({ "entityTypeId": 1, "fields": {
                "title": "From item", "OPPORTUNITY": "1500.5", "assignedById": 2, "stageId": "IN_PROCESS",
                "fm": [{ "typeId": "PHONE", "valueType": "WORK", "value": "+7 999 000-00-01" }],
                "ufCrm_5": "x", "unknownField": 1
            } }),
        );
        let item = outcome.unwrap().result["item"].clone();
        assert_eq!(emitted[0].name, "ONCRMLEADADD");
        assert_eq!(
            (
                item["id"].clone(),
                item["opportunity"].clone(),
                item["assignedById"].clone()
            ),
            (json!(1), json!(1500.5), json!(2))
        );
        assert_eq!(item["hasPhone"], "Y");
        assert_eq!(item["phoneWork"], "+7 999 000-00-01");
        assert_eq!(item["fm"][0]["typeId"], "PHONE");
        assert_eq!(item["ufCrm_5"], "x");
        let row = &state.crm.leads.rows[&1];
        assert_eq!(row["STATUS_ID"], "IN_PROCESS");
        assert_eq!(row["OPPORTUNITY"], "1500.50");
        assert_eq!(row["PHONE"][0]["VALUE_TYPE"], "WORK");
        assert!(!row.contains_key("unknownField"));
    }

    #[test]
    fn fm_updates_by_key() {
        let mut state = State::default();
        ok(
            &mut state,
            add,
            json!({ "entityTypeId": 3, "fields": { "name": "A", "fm": [
                { "typeId": "PHONE", "value": "1" }, { "typeId": "EMAIL", "value": "a@b.c" }] } }),
        );
        let item = ok(
            &mut state,
            update,
            json!({ "entityTypeId": 3, "id": 1, "fields": { "fm": {
                "1": { "typeId": "PHONE", "valueType": "MOBILE", "value": "11" },
                "2": { "typeId": "EMAIL", "value": "" },
                "n0": { "typeId": "WEB", "value": "example.com" } } } }),
        )["item"]
            .clone();
        let fm = item["fm"].as_array().unwrap();
        assert_eq!(fm.len(), 2);
        assert_eq!(
            (fm[0]["value"].as_str(), fm[0]["valueType"].as_str()),
            (Some("11"), Some("MOBILE"))
        );
        assert_eq!(fm[1]["typeId"], "WEB");
        assert_eq!(item["hasEmail"], "N");
    }

    #[test]
    fn errors_are_documented_ones() {
        let mut state = State::default();
        let error = call(&mut state, add, json!({ "entityTypeId": 5, "fields": {} }))
            .0
            .unwrap_err();
        assert_eq!((error.status, error.code.as_str()), (400, "NOT_FOUND"));
        let error = call(&mut state, get, json!({ "entityTypeId": 2, "id": 9 }))
            .0
            .unwrap_err();
        assert_eq!(error.description, "Item not found");
        let error = call(
            &mut state,
            list_items,
            json!({ "entityTypeId": 2, "filter": { "FIELD": 1 } }),
        )
        .0
        .unwrap_err();
        assert_eq!(error.code, "INVALID_ARG_VALUE");
        let error = call(
            &mut state,
            list_items,
            json!({ "entityTypeId": 2, "order": { "id": "UP" } }),
        )
        .0
        .unwrap_err();
        assert!(error.description.contains("allowed sort directions"));
        let error = call(
            &mut state,
            add,
            json!({ "entityTypeId": 2, "fields": { "observers": 5 } }),
        )
        .0
        .unwrap_err();
        assert_eq!(error.code, "100");
        let error = call(
            &mut state,
            add,
            json!({ "entityTypeId": 2, "fields": { "opportunity": "lots" } }),
        )
        .0
        .unwrap_err();
        assert_eq!(error.code, "CRM_FIELD_ERROR_VALUE_NOT_VALID");
        let error = call(&mut state, add, json!({ "entityTypeId": 2 }))
            .0
            .unwrap_err();
        assert_eq!(error.code, "100");
    }

    #[test]
    fn smart_processes_have_their_own_tables() {
        let mut state = State::default();
        let (outcome, emitted) = call(
            &mut state,
            add,
            json!({ "entityTypeId": 1268, "fields": { "parentId2": 7 } }),
        );
        let item = outcome.unwrap().result["item"].clone();
        assert_eq!(emitted[0].name, "ONCRMDYNAMICITEMADD");
        assert_eq!(emitted[0].data["FIELDS"]["ENTITY_TYPE_ID"], 1268);
        assert_eq!(item["title"], "Smart process #1 #1");
        assert_eq!(item["parentId2"], 7);
        assert!(item["stageId"].as_str().unwrap().starts_with("DT1268_"));
        let fields = ok(&mut state, fields, json!({ "entityTypeId": 1268 }));
        assert_eq!(
            fields["fields"]["mycompanyId"]["settings"]["isMyCompany"],
            true
        );
        assert!(
            fields["fields"]["stageId"]["statusType"]
                .as_str()
                .unwrap()
                .starts_with("DYNAMIC_1268_STAGE_")
        );
        let deleted = ok(&mut state, delete, json!({ "entityTypeId": 1268, "id": 1 }));
        assert_eq!(deleted, json!([]));
        assert!(state.crm.dynamic[&1268].items.rows.is_empty());
    }

    #[test]
    fn list_filters_orders_and_selects_in_camel_case() {
        let mut state = State::default();
        for (title, amount) in [("b", 10), ("a", 30), ("c", 20)] {
            ok(
                &mut state,
                add,
                json!({ "entityTypeId": 2, "fields": { "title": title, "opportunity": amount } }),
            );
        }
        let page = call(
            &mut state,
            list_items,
            json!({ "entityTypeId": 2, "select": ["title"], "filter": { ">=opportunity": 15, "0": { "logic": "OR", "TITLE": "a", "=title": "c" } }, "order": { "OPPORTUNITY": "DESC" } }),
        )
        .0
        .unwrap();
        assert_eq!(page.total, Some(2));
        assert_eq!(
            page.result,
            json!({ "items": [{ "id": 2, "title": "a" }, { "id": 3, "title": "c" }] })
        );
    }
}
