//! `client.crm()`.

use serde_json::{Value, json};

use crate::client::Client;
use crate::method::Call;
use crate::methods::crm as m;

/// The `crm` scope (`client.crm()`).
#[derive(Debug, Clone, Copy)]
pub struct Crm<'a> {
    client: &'a Client,
}

impl<'a> Crm<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// Leads (`crm.lead.*`).
    pub fn leads(&self) -> Leads<'a> {
        Leads {
            client: self.client,
        }
    }

    /// Deals (`crm.deal.*`).
    pub fn deals(&self) -> Deals<'a> {
        Deals {
            client: self.client,
        }
    }

    /// Contacts (`crm.contact.*`).
    pub fn contacts(&self) -> Contacts<'a> {
        Contacts {
            client: self.client,
        }
    }

    /// Companies (`crm.company.*`).
    pub fn companies(&self) -> Companies<'a> {
        Companies {
            client: self.client,
        }
    }

    /// Items of one entity type through the universal `crm.item.*` methods: 1 lead, 2 deal,
    /// 3 contact, 4 company, 31 invoice, 128 and up smart processes.
    pub fn items(&self, entity_type_id: u32) -> Items<'a> {
        Items {
            client: self.client,
            entity_type_id,
        }
    }

    /// Timeline comments (`crm.timeline.comment.*`).
    pub fn timeline_comments(&self) -> TimelineComments<'a> {
        TimelineComments {
            client: self.client,
        }
    }

    /// `crm.duplicate.findbycomm`: leads, contacts and companies with these phone numbers.
    pub fn find_by_phones(
        &self,
        phones: impl IntoIterator<Item = impl Into<String>>,
    ) -> Call<m::duplicate::Findbycomm> {
        let values: Vec<String> = phones.into_iter().map(Into::into).collect();
        self.client
            .call(m::duplicate::Findbycomm::new("PHONE", values))
    }

    /// `crm.duplicate.findbycomm`: leads, contacts and companies with these e-mails.
    pub fn find_by_emails(
        &self,
        emails: impl IntoIterator<Item = impl Into<String>>,
    ) -> Call<m::duplicate::Findbycomm> {
        let values: Vec<String> = emails.into_iter().map(Into::into).collect();
        self.client
            .call(m::duplicate::Findbycomm::new("EMAIL", values))
    }
}

macro_rules! old_entity {
    ($handle:ident, $module:ident, $fields:ty, $rest:literal, add: $add:expr, update: $update:expr) => {
        #[doc = concat!("`crm.", $rest, ".*`.")]
        #[derive(Debug, Clone, Copy)]
        pub struct $handle<'a> {
            client: &'a Client,
        }

        impl $handle<'_> {
            #[doc = concat!("`crm.", $rest, ".add`: creates one and returns its id.")]
            pub fn add(&self, fields: impl Into<$fields>) -> Call<m::$module::Add> {
                let add: fn($fields) -> m::$module::Add = $add;
                self.client.call(add(fields.into()))
            }

            #[doc = concat!("`crm.", $rest, ".get`: one by id, with its multi-fields and user fields.")]
            pub fn get(&self, id: u64) -> Call<m::$module::Get> {
                self.client.call(m::$module::Get::new(to_i64(id)))
            }

            #[doc = concat!("`crm.", $rest, ".list`: page through them; add `filter`, `select`, `order` with [`Call::with`].")]
            pub fn list(&self) -> Call<m::$module::List> {
                self.client.call(m::$module::List::new())
            }

            #[doc = concat!("`crm.", $rest, ".update`: changes the given fields only.")]
            pub fn update(&self, id: u64, fields: impl Into<$fields>) -> Call<m::$module::Update> {
                let update: fn(i64, $fields) -> m::$module::Update = $update;
                self.client.call(update(to_i64(id), fields.into()))
            }

            #[doc = concat!("`crm.", $rest, ".delete`.")]
            pub fn delete(&self, id: u64) -> Call<m::$module::Delete> {
                self.client.call(m::$module::Delete::new(to_i64(id)))
            }

            #[doc = concat!("`crm.", $rest, ".fields`: the portal's field descriptions, user fields included.")]
            pub fn fields(&self) -> Call<m::$module::Fields> {
                self.client.call(m::$module::Fields::new())
            }
        }
    };
}

// The catalogue marks `fields` required for some entities and optional for others, so the
// generated constructors differ.
old_entity!(Leads, lead, crate::crm::LeadFields, "lead",
    add: |f| m::lead::Add::new().fields(f), update: |id, f| m::lead::Update::new(id).fields(f));
old_entity!(Deals, deal, crate::crm::DealFields, "deal",
    add: |f| m::deal::Add::new().fields(f), update: |id, f| m::deal::Update::new(id).fields(f));
old_entity!(Contacts, contact, crate::crm::ContactFields, "contact",
    add: |f| m::contact::Add::new().fields(f), update: m::contact::Update::new);
old_entity!(Companies, company, crate::crm::CompanyFields, "company",
    add: m::company::Add::new, update: m::company::Update::new);

/// Ids are unsigned in the SDK and signed in the catalogue's types; ids never reach 2^63.
pub(crate) fn to_i64(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

/// `crm.item.*` for one entity type.
#[derive(Debug, Clone, Copy)]
pub struct Items<'a> {
    client: &'a Client,
    entity_type_id: u32,
}

impl Items<'_> {
    /// `crm.item.add`.
    pub fn add(&self, fields: impl Into<crate::crm::ItemFields>) -> Call<m::item::Add> {
        self.client
            .call(m::item::Add::new(self.entity_type_id, fields))
    }

    /// `crm.item.get`.
    pub fn get(&self, id: u64) -> Call<m::item::Get> {
        self.client
            .call(m::item::Get::new(self.entity_type_id, to_i64(id)))
    }

    /// `crm.item.list`: rows under `items`, filtered and ordered by camelCase fields.
    pub fn list(&self) -> Call<m::item::List> {
        self.client.call(m::item::List::new(self.entity_type_id))
    }

    /// `crm.item.update`.
    pub fn update(
        &self,
        id: u64,
        fields: impl Into<crate::crm::ItemFields>,
    ) -> Call<m::item::Update> {
        self.client.call(m::item::Update::new(
            self.entity_type_id,
            to_i64(id),
            fields,
        ))
    }

    /// `crm.item.delete` (the portal answers `[]`).
    pub fn delete(&self, id: u64) -> Call<m::item::Delete> {
        self.client
            .call(m::item::Delete::new(self.entity_type_id, to_i64(id)))
    }

    /// `crm.item.fields`.
    pub fn fields(&self) -> Call<m::item::Fields> {
        self.client.call(m::item::Fields::new(self.entity_type_id))
    }
}

/// `crm.timeline.comment.*`.
#[derive(Debug, Clone, Copy)]
pub struct TimelineComments<'a> {
    client: &'a Client,
}

impl TimelineComments<'_> {
    /// `crm.timeline.comment.add`: a comment on an entity's timeline (`entity_type` is
    /// `lead`, `deal`, `contact`, `company` or `dynamic_<id>`), with files as
    /// `[name, base64]` pairs (see [`files`](crate::files)).
    pub fn add(
        &self,
        entity_type: &str,
        entity_id: u64,
        comment: &str,
        files: Vec<Value>,
    ) -> Call<m::timeline::comment::Add> {
        let mut fields =
            json!({ "ENTITY_ID": entity_id, "ENTITY_TYPE": entity_type, "COMMENT": comment });
        if !files.is_empty()
            && let Value::Object(map) = &mut fields
        {
            map.insert("FILES".into(), Value::Array(files));
        }
        self.client.call(m::timeline::comment::Add::new(fields))
    }

    /// `crm.timeline.comment.get`.
    pub fn get(&self, id: u64) -> Call<m::timeline::comment::Get> {
        self.client.call(m::timeline::comment::Get::new(to_i64(id)))
    }

    /// `crm.timeline.comment.list`: the comments of one entity, e.g.
    /// `{"ENTITY_ID": 5, "ENTITY_TYPE": "lead"}`.
    pub fn list(&self, filter: Value) -> Call<m::timeline::comment::List> {
        self.client.call(m::timeline::comment::List::new(filter))
    }

    /// `crm.timeline.comment.delete`.
    pub fn delete(
        &self,
        id: u64,
        owner_type_id: u32,
        owner_id: u64,
    ) -> Call<m::timeline::comment::Delete> {
        self.client.call(
            m::timeline::comment::Delete::new(to_i64(id))
                .owner_type_id(owner_type_id)
                .owner_id(to_i64(owner_id)),
        )
    }
}
