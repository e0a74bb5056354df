//! The `crm` scope: typed requests, curated models and handles.
//!
//! Models of the classic entity methods (`crm.lead.*`, `crm.deal.*`, `crm.contact.*`,
//! `crm.company.*`, `UPPER_SNAKE` fields), of the universal `crm.item.*` API (camelCase
//! fields) and of timeline comments, plus the input builders for their `fields`.

mod company;
mod contact;
mod deal;
mod input;
mod item;
mod lead;
mod timeline;

pub use company::Company;
pub use contact::Contact;
pub use deal::Deal;
pub use input::{CompanyFields, ContactFields, DealFields, ItemFields, LeadFields};
pub use item::{Item, ItemEnvelope, ItemsPage};
pub use lead::Lead;
pub use timeline::{TimelineComment, TimelineFile};

pub use crate::types::{MultiField, MultiFieldInput, MultiFieldType, Semantic};

pub use crate::handles::crm::{Companies, Contacts, Crm, Deals, Items, Leads, TimelineComments};
