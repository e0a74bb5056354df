//! The `crm` scope.

pub(crate) mod duplicate;
pub(crate) mod entity;
pub(crate) mod files;
pub(crate) mod item;
pub(crate) mod timeline;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use self::entity::{Entity, FieldDef, field};
use super::clock::{Clock, iso8601};
use super::list::Table;
use super::registry::Registry;
use super::state::State;

/// Everything the CRM stores.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct CrmState {
    pub(crate) leads: Table,
    pub(crate) deals: Table,
    pub(crate) contacts: Table,
    pub(crate) companies: Table,
    pub(crate) last_multifield_id: u64,
    /// Smart processes by `entityTypeId`, created on first use.
    pub(crate) dynamic: BTreeMap<u64, DynamicType>,
    /// Timeline comments.
    pub(crate) comments: Table,
    /// Uploaded files by id (file fields and timeline attachments).
    pub(crate) files: BTreeMap<u64, files::CrmFile>,
    pub(crate) last_file_id: u64,
}

/// A smart process (a user-defined CRM type, `entityTypeId` >= 128) and its items.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct DynamicType {
    pub(crate) title: String,
    /// Its default pipeline, which names its stages (`DT<entityTypeId>_<category>:NEW`).
    pub(crate) category_id: u64,
    pub(crate) items: Table,
}

impl CrmState {
    /// The smart process `entity_type_id`, created on first use as the brief of the sandbox
    /// asks (the portal has `crm.type.add` for that, which the sandbox does not emulate).
    pub(crate) fn dynamic_type(&mut self, entity_type_id: u64) -> &mut DynamicType {
        let count = self.dynamic.len() as u64;
        self.dynamic
            .entry(entity_type_id)
            .or_insert_with(|| DynamicType {
                title: format!("Smart process #{}", count + 1),
                category_id: 10 + count,
                items: Table::default(),
            })
    }

    /// The rows of an old CRM entity type or of a smart process that exists.
    pub(crate) fn table(&self, entity_type_id: u64) -> Option<&Table> {
        match entity_type_id {
            1 => Some(&self.leads),
            2 => Some(&self.deals),
            3 => Some(&self.contacts),
            4 => Some(&self.companies),
            id => self.dynamic.get(&id).map(|t| &t.items),
        }
    }
}

const MULTI: &str = "crm_multifield";

const LEAD_SCHEMA: &[FieldDef] = &[
    field("ID", "integer", "ID").read_only(),
    field("TITLE", "string", "Lead name"),
    field("HONORIFIC", "crm_status", "Salutation").status("HONORIFIC"),
    field("NAME", "string", "First name"),
    field("SECOND_NAME", "string", "Second name"),
    field("LAST_NAME", "string", "Last name"),
    field("BIRTHDATE", "date", "Date of birth"),
    field("COMPANY_TITLE", "string", "Company name"),
    field("SOURCE_ID", "crm_status", "Source").status("SOURCE"),
    field("SOURCE_DESCRIPTION", "text", "Source information"),
    field("STATUS_ID", "crm_status", "Stage").status("STATUS"),
    field("STATUS_DESCRIPTION", "text", "Stage information"),
    field("STATUS_SEMANTIC_ID", "string", "Stage semantics").read_only(),
    field("POST", "string", "Position"),
    field("ADDRESS", "string", "Address"),
    field("ADDRESS_2", "string", "Address (line 2)"),
    field("ADDRESS_CITY", "string", "City"),
    field("ADDRESS_POSTAL_CODE", "string", "ZIP"),
    field("ADDRESS_REGION", "string", "Region"),
    field("ADDRESS_PROVINCE", "string", "State / Province"),
    field("ADDRESS_COUNTRY", "string", "Country"),
    field("ADDRESS_COUNTRY_CODE", "string", "Country code"),
    field("ADDRESS_LOC_ADDR_ID", "integer", "Location address ID"),
    field("CURRENCY_ID", "crm_currency", "Currency"),
    field("OPPORTUNITY", "double", "Amount"),
    field("IS_MANUAL_OPPORTUNITY", "char", "Manual amount"),
    field("OPENED", "char", "Available to everyone"),
    field("COMMENTS", "string", "Comment"),
    field("HAS_PHONE", "char", "Has phone").read_only(),
    field("HAS_EMAIL", "char", "Has e-mail").read_only(),
    field("HAS_IMOL", "char", "Has open line").read_only(),
    field("ASSIGNED_BY_ID", "user", "Responsible person"),
    field("CREATED_BY_ID", "user", "Created by").read_only(),
    field("MODIFY_BY_ID", "user", "Modified by").read_only(),
    field("DATE_CREATE", "datetime", "Created on").read_only(),
    field("DATE_MODIFY", "datetime", "Modified on").read_only(),
    field("DATE_CLOSED", "datetime", "Closed on").read_only(),
    field("COMPANY_ID", "crm_company", "Company").settings(r#"{"parentEntityTypeId":4}"#),
    field("CONTACT_ID", "crm_contact", "Contact").deprecated(),
    field("CONTACT_IDS", "crm_contact", "Contacts").multiple(),
    field("IS_RETURN_CUSTOMER", "char", "Repeat lead").read_only(),
    field("ORIGINATOR_ID", "string", "External source"),
    field("ORIGIN_ID", "string", "Item ID in the external source"),
    field("MOVED_BY_ID", "user", "Moved by").read_only(),
    field("MOVED_TIME", "datetime", "Moved on").read_only(),
    field("LAST_ACTIVITY_TIME", "datetime", "Last activity").read_only(),
    field("LAST_ACTIVITY_BY", "user", "Last activity by").read_only(),
    field("UTM_SOURCE", "string", "Ad system"),
    field("UTM_MEDIUM", "string", "Traffic type"),
    field("UTM_CAMPAIGN", "string", "Ad campaign"),
    field("UTM_CONTENT", "string", "Campaign contents"),
    field("UTM_TERM", "string", "Campaign search term"),
    field("PHONE", MULTI, "Phone"),
    field("EMAIL", MULTI, "E-mail"),
    field("WEB", MULTI, "Website"),
    field("IM", MULTI, "Messenger"),
    field("LINK", MULTI, "Link"),
];

const DEAL_SCHEMA: &[FieldDef] = &[
    field("ID", "integer", "ID").read_only(),
    field("TITLE", "string", "Name"),
    field("TYPE_ID", "crm_status", "Type").status("DEAL_TYPE"),
    field("CATEGORY_ID", "crm_category", "Pipeline"),
    field("STAGE_ID", "crm_status", "Stage").status("DEAL_STAGE"),
    field("STAGE_SEMANTIC_ID", "string", "Stage group").read_only(),
    field("IS_NEW", "char", "New deal").read_only(),
    field("IS_RECURRING", "char", "Recurring deal"),
    field("PROBABILITY", "integer", "Probability"),
    field("CURRENCY_ID", "crm_currency", "Currency"),
    field("OPPORTUNITY", "double", "Amount"),
    field("IS_MANUAL_OPPORTUNITY", "char", "Manual amount"),
    field("TAX_VALUE", "double", "Tax rate"),
    field("COMPANY_ID", "crm_company", "Company").settings(r#"{"parentEntityTypeId":4}"#),
    field("CONTACT_ID", "crm_contact", "Contact").deprecated(),
    field("CONTACT_IDS", "crm_contact", "Contacts").multiple(),
    field("QUOTE_ID", "crm_quote", "Quote").settings(r#"{"parentEntityTypeId":7}"#),
    field("BEGINDATE", "date", "Start date"),
    field("CLOSEDATE", "date", "End date"),
    field("OPENED", "char", "Available to everyone"),
    field("CLOSED", "char", "Closed"),
    field("COMMENTS", "string", "Comment"),
    field("ASSIGNED_BY_ID", "user", "Responsible person"),
    field("CREATED_BY_ID", "user", "Created by").read_only(),
    field("MODIFY_BY_ID", "user", "Modified by").read_only(),
    field("DATE_CREATE", "datetime", "Created on").read_only(),
    field("DATE_MODIFY", "datetime", "Modified on").read_only(),
    field("LEAD_ID", "crm_lead", "Lead")
        .read_only()
        .settings(r#"{"parentEntityTypeId":1}"#),
    field("ADDITIONAL_INFO", "string", "Additional information"),
    field("LOCATION_ID", "location", "Location"),
    field("IS_RETURN_CUSTOMER", "char", "Repeat deal"),
    field("IS_REPEATED_APPROACH", "char", "Repeated inquiry"),
    field("SOURCE_ID", "crm_status", "Source").status("SOURCE"),
    field("SOURCE_DESCRIPTION", "text", "Source information"),
    field("ORIGINATOR_ID", "string", "External source"),
    field("ORIGIN_ID", "string", "Item ID in the external source"),
    field("MOVED_BY_ID", "user", "Moved by").read_only(),
    field("MOVED_TIME", "datetime", "Moved on").read_only(),
    field("LAST_ACTIVITY_TIME", "datetime", "Last activity").read_only(),
    field("LAST_ACTIVITY_BY", "user", "Last activity by").read_only(),
    field("UTM_SOURCE", "string", "Ad system"),
    field("UTM_MEDIUM", "string", "Traffic type"),
    field("UTM_CAMPAIGN", "string", "Ad campaign"),
    field("UTM_CONTENT", "string", "Campaign contents"),
    field("UTM_TERM", "string", "Campaign search term"),
];

const CONTACT_SCHEMA: &[FieldDef] = &[
    field("ID", "integer", "ID").read_only(),
    field("HONORIFIC", "crm_status", "Salutation").status("HONORIFIC"),
    field("NAME", "string", "First name"),
    field("SECOND_NAME", "string", "Second name"),
    field("LAST_NAME", "string", "Last name"),
    field("PHOTO", "file", "Photo"),
    field("BIRTHDATE", "date", "Date of birth"),
    field("TYPE_ID", "crm_status", "Contact type").status("CONTACT_TYPE"),
    field("SOURCE_ID", "crm_status", "Source").status("SOURCE"),
    field("SOURCE_DESCRIPTION", "text", "Source information"),
    field("POST", "string", "Position"),
    field("ADDRESS", "string", "Address"),
    field("ADDRESS_2", "string", "Address (line 2)"),
    field("ADDRESS_CITY", "string", "City"),
    field("ADDRESS_POSTAL_CODE", "string", "ZIP"),
    field("ADDRESS_REGION", "string", "Region"),
    field("ADDRESS_PROVINCE", "string", "State / Province"),
    field("ADDRESS_COUNTRY", "string", "Country"),
    field("ADDRESS_COUNTRY_CODE", "string", "Country code"),
    field("ADDRESS_LOC_ADDR_ID", "integer", "Location address ID"),
    field("COMMENTS", "string", "Comment"),
    field("OPENED", "char", "Available to everyone"),
    field("EXPORT", "char", "Included in export"),
    field("HAS_PHONE", "char", "Has phone").read_only(),
    field("HAS_EMAIL", "char", "Has e-mail").read_only(),
    field("HAS_IMOL", "char", "Has open line").read_only(),
    field("ASSIGNED_BY_ID", "user", "Responsible person"),
    field("CREATED_BY_ID", "user", "Created by").read_only(),
    field("MODIFY_BY_ID", "user", "Modified by").read_only(),
    field("DATE_CREATE", "datetime", "Created on").read_only(),
    field("DATE_MODIFY", "datetime", "Modified on").read_only(),
    field("COMPANY_ID", "crm_company", "Company").deprecated(),
    field("COMPANY_IDS", "crm_company", "Companies").multiple(),
    field("LEAD_ID", "crm_lead", "Lead")
        .read_only()
        .settings(r#"{"parentEntityTypeId":1}"#),
    field("FACE_ID", "integer", "Face ID").read_only(),
    field("ORIGINATOR_ID", "string", "External source"),
    field("ORIGIN_ID", "string", "Item ID in the external source"),
    field("ORIGIN_VERSION", "string", "Original version"),
    field("LAST_ACTIVITY_TIME", "datetime", "Last activity").read_only(),
    field("LAST_ACTIVITY_BY", "user", "Last activity by").read_only(),
    field("UTM_SOURCE", "string", "Ad system"),
    field("UTM_MEDIUM", "string", "Traffic type"),
    field("UTM_CAMPAIGN", "string", "Ad campaign"),
    field("UTM_CONTENT", "string", "Campaign contents"),
    field("UTM_TERM", "string", "Campaign search term"),
    field("PHONE", MULTI, "Phone"),
    field("EMAIL", MULTI, "E-mail"),
    field("WEB", MULTI, "Website"),
    field("IM", MULTI, "Messenger"),
    field("LINK", MULTI, "Link"),
];

const COMPANY_SCHEMA: &[FieldDef] = &[
    field("ID", "integer", "ID").read_only(),
    field("TITLE", "string", "Company name").required(),
    field("COMPANY_TYPE", "crm_status", "Company type").status("COMPANY_TYPE"),
    field("LOGO", "file", "Logo"),
    field("ADDRESS", "string", "Address"),
    field("ADDRESS_2", "string", "Address (line 2)"),
    field("ADDRESS_CITY", "string", "City"),
    field("ADDRESS_POSTAL_CODE", "string", "ZIP"),
    field("ADDRESS_REGION", "string", "Region"),
    field("ADDRESS_PROVINCE", "string", "State / Province"),
    field("ADDRESS_COUNTRY", "string", "Country"),
    field("ADDRESS_COUNTRY_CODE", "string", "Country code"),
    field("ADDRESS_LOC_ADDR_ID", "integer", "Location address ID"),
    field("ADDRESS_LEGAL", "string", "Legal address"),
    field("REG_ADDRESS", "string", "Legal address"),
    field("REG_ADDRESS_2", "string", "Legal address (line 2)"),
    field("REG_ADDRESS_CITY", "string", "Legal address: city"),
    field("REG_ADDRESS_POSTAL_CODE", "string", "Legal address: ZIP"),
    field("REG_ADDRESS_REGION", "string", "Legal address: region"),
    field(
        "REG_ADDRESS_PROVINCE",
        "string",
        "Legal address: state / province",
    ),
    field("REG_ADDRESS_COUNTRY", "string", "Legal address: country"),
    field(
        "REG_ADDRESS_COUNTRY_CODE",
        "string",
        "Legal address: country code",
    ),
    field(
        "REG_ADDRESS_LOC_ADDR_ID",
        "integer",
        "Legal address: location address ID",
    ),
    field("BANKING_DETAILS", "string", "Payment details"),
    field("INDUSTRY", "crm_status", "Industry").status("INDUSTRY"),
    field("EMPLOYEES", "crm_status", "Employees").status("EMPLOYEES"),
    field("CURRENCY_ID", "crm_currency", "Currency"),
    field("REVENUE", "double", "Annual revenue"),
    field("OPENED", "char", "Available to everyone"),
    field("COMMENTS", "string", "Comment"),
    field("HAS_PHONE", "char", "Has phone").read_only(),
    field("HAS_EMAIL", "char", "Has e-mail").read_only(),
    field("HAS_IMOL", "char", "Has open line").read_only(),
    field("IS_MY_COMPANY", "char", "My company"),
    field("ASSIGNED_BY_ID", "user", "Responsible person"),
    field("CREATED_BY_ID", "user", "Created by").read_only(),
    field("MODIFY_BY_ID", "user", "Modified by").read_only(),
    field("DATE_CREATE", "datetime", "Created on").read_only(),
    field("DATE_MODIFY", "datetime", "Modified on").read_only(),
    field("CONTACT_ID", "crm_contact", "Contacts").multiple(),
    field("LEAD_ID", "crm_lead", "Lead")
        .read_only()
        .settings(r#"{"parentEntityTypeId":1}"#),
    field("ORIGINATOR_ID", "string", "External source"),
    field("ORIGIN_ID", "string", "Item ID in the external source"),
    field("ORIGIN_VERSION", "string", "Original version"),
    field("LAST_ACTIVITY_TIME", "datetime", "Last activity").read_only(),
    field("LAST_ACTIVITY_BY", "user", "Last activity by").read_only(),
    field("LAST_COMMUNICATION_TIME", "string", "Last communication").read_only(),
    field("UTM_SOURCE", "string", "Ad system"),
    field("UTM_MEDIUM", "string", "Traffic type"),
    field("UTM_CAMPAIGN", "string", "Ad campaign"),
    field("UTM_CONTENT", "string", "Campaign contents"),
    field("UTM_TERM", "string", "Campaign search term"),
    field("PHONE", MULTI, "Phone"),
    field("EMAIL", MULTI, "E-mail"),
    field("WEB", MULTI, "Website"),
    field("IM", MULTI, "Messenger"),
    field("LINK", MULTI, "Link"),
];

pub(crate) static LEAD: Entity = Entity {
    name: "lead",
    schema: LEAD_SCHEMA,
    defaults: &[
        ("STATUS_ID", "NEW"),
        ("STATUS_SEMANTIC_ID", "P"),
        ("OPENED", "Y"),
        ("CURRENCY_ID", "RUB"),
        ("OPPORTUNITY", "0.00"),
        ("IS_RETURN_CUSTOMER", "N"),
    ],
    table: |crm| &mut crm.leads,
};

pub(crate) static DEAL: Entity = Entity {
    name: "deal",
    schema: DEAL_SCHEMA,
    defaults: &[
        ("STAGE_ID", "NEW"),
        ("CATEGORY_ID", "0"),
        ("STAGE_SEMANTIC_ID", "P"),
        ("IS_NEW", "Y"),
        ("OPENED", "Y"),
        ("CLOSED", "N"),
        ("CURRENCY_ID", "RUB"),
        ("OPPORTUNITY", "0.00"),
        ("IS_RETURN_CUSTOMER", "N"),
        ("IS_REPEATED_APPROACH", "N"),
    ],
    table: |crm| &mut crm.deals,
};

pub(crate) static CONTACT: Entity = Entity {
    name: "contact",
    schema: CONTACT_SCHEMA,
    defaults: &[("OPENED", "Y"), ("EXPORT", "Y"), ("TYPE_ID", "CLIENT")],
    table: |crm| &mut crm.contacts,
};

pub(crate) static COMPANY: Entity = Entity {
    name: "company",
    schema: COMPANY_SCHEMA,
    defaults: &[
        ("OPENED", "Y"),
        ("COMPANY_TYPE", "CUSTOMER"),
        ("IS_MY_COMPANY", "N"),
        ("CURRENCY_ID", "RUB"),
    ],
    table: |crm| &mut crm.companies,
};

macro_rules! entity_methods {
    ($registry:expr, $entity:expr, $prefix:literal) => {
        $registry.method(concat!($prefix, ".add"), |ctx| entity::add(&$entity, ctx));
        $registry.method(concat!($prefix, ".get"), |ctx| entity::get(&$entity, ctx));
        $registry.method(concat!($prefix, ".list"), |ctx| {
            entity::list_rows(&$entity, ctx)
        });
        $registry.method(concat!($prefix, ".update"), |ctx| {
            entity::update(&$entity, ctx)
        });
        $registry.method(concat!($prefix, ".delete"), |ctx| {
            entity::delete(&$entity, ctx)
        });
        $registry.method(concat!($prefix, ".fields"), |ctx| {
            entity::fields(&$entity, ctx)
        });
    };
}

/// Registers the `crm.*` methods.
pub(crate) fn register(registry: &mut Registry) {
    entity_methods!(registry, LEAD, "crm.lead");
    entity_methods!(registry, DEAL, "crm.deal");
    entity_methods!(registry, CONTACT, "crm.contact");
    entity_methods!(registry, COMPANY, "crm.company");
    item::register(registry);
    timeline::register(registry);
    duplicate::register(registry);
}

/// Creates leads 1..=count, with varied stages, sources and amounts, quickly.
pub(crate) fn seed_leads(state: &mut State, count: u64, clock: &Clock) {
    const STATUSES: [&str; 4] = ["NEW", "IN_PROCESS", "PROCESSED", "JUNK"];
    const SOURCES: [&str; 4] = ["WEB", "CALL", "EMAIL", "ADVERTISING"];
    let start = clock.unix_secs() - i64::try_from(count).unwrap_or(0) * 60;
    let first = state.crm.leads.last_id + 1;
    for id in first..first + count {
        let index = usize::try_from(id % 4).unwrap_or(0);
        let created = iso8601(start + i64::try_from(id).unwrap_or(0) * 60);
        let mut row = Map::new();
        row.insert("ID".into(), Value::String(id.to_string()));
        row.insert("TITLE".into(), Value::String(format!("Lead #{id}")));
        row.insert("NAME".into(), Value::String(format!("Customer {id}")));
        row.insert("STATUS_ID".into(), Value::String(STATUSES[index].into()));
        row.insert("SOURCE_ID".into(), Value::String(SOURCES[index].into()));
        row.insert(
            "OPPORTUNITY".into(),
            Value::String(format!("{}.00", (id % 100) * 1000)),
        );
        row.insert("CURRENCY_ID".into(), Value::String("RUB".into()));
        row.insert("ASSIGNED_BY_ID".into(), Value::String("1".into()));
        row.insert("DATE_CREATE".into(), Value::String(created.clone()));
        row.insert("DATE_MODIFY".into(), Value::String(created));
        state.crm.leads.put(id, row);
    }
}

/// The JSON form of every stored row of `kind` (`lead`, `deal`, `contact`, `company`,
/// `dynamic_<entityTypeId>`).
pub(crate) fn rows(state: &State, kind: &str) -> Option<Vec<Value>> {
    let table = match kind {
        "lead" => &state.crm.leads,
        "deal" => &state.crm.deals,
        "contact" => &state.crm.contacts,
        "company" => &state.crm.companies,
        other => {
            let id = other.strip_prefix("dynamic_")?.parse::<u64>().ok()?;
            &state.crm.dynamic.get(&id)?.items
        }
    };
    Some(
        table
            .rows
            .values()
            .map(|row| Value::Object(row.clone()))
            .collect(),
    )
}

/// Runs handlers on a bare `State`, for the unit tests of this scope and of `im`.
#[cfg(test)]
pub(crate) mod testing {
    use serde_json::Value;
    use url::Url;

    use crate::sandbox::clock::Clock;
    use crate::sandbox::params::Params;
    use crate::sandbox::registry::{Caller, CallerKind, Ctx, Emitted};
    use crate::sandbox::reply::Outcome;
    use crate::sandbox::state::State;

    /// Calls `handler` with `params` as the webhook's user 1 (`app` = as the sandbox app).
    pub(crate) fn call_as(
        state: &mut State,
        handler: fn(&mut Ctx<'_>) -> Outcome,
        params: Value,
        app: bool,
    ) -> (Outcome, Vec<Emitted>) {
        let Value::Object(map) = params else {
            panic!("params must be an object")
        };
        let params = Params::new(map);
        let kind = if app {
            CallerKind::App {
                client_id: "local.app".into(),
            }
        } else {
            CallerKind::Webhook
        };
        let caller = Caller {
            key: "test".into(),
            user_id: 1,
            kind,
        };
        let base_url = Url::parse("http://127.0.0.1:1/").unwrap();
        let mut ctx = Ctx {
            state,
            params: &params,
            caller: &caller,
            clock: Clock::new(),
            base_url: &base_url,
            emitted: Vec::new(),
        };
        let outcome = handler(&mut ctx);
        (outcome, ctx.emitted)
    }

    /// Calls `handler` as the webhook.
    pub(crate) fn call(
        state: &mut State,
        handler: fn(&mut Ctx<'_>) -> Outcome,
        params: Value,
    ) -> (Outcome, Vec<Emitted>) {
        call_as(state, handler, params, false)
    }

    /// Calls `handler` and returns its result, panicking on an error.
    pub(crate) fn ok(
        state: &mut State,
        handler: fn(&mut Ctx<'_>) -> Outcome,
        params: Value,
    ) -> Value {
        match call(state, handler, params).0 {
            Ok(reply) => reply.result,
            Err(fail) => panic!("{} {}: {}", fail.status, fail.code, fail.description),
        }
    }
}
