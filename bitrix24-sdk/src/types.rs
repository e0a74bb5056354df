//! Lenient serde helpers and id types shared by the models.
//!
//! The portal is loose about types: the same field is a number in one method and a numeric
//! string in another, booleans are `"Y"`/`"N"`, `"1"`/`"0"` or `true`/`false`, an absent value
//! is `null`, `""`, `{}` or `[]`, and dates come as ISO-8601 with an offset or in the portal's
//! legacy `dd.mm.yyyy HH:MM:SS` form. The types here absorb that once, so the curated models
//! can offer plain Rust types:
//!
//! - [`Id`]: an entity id that reads a number or a numeric string and writes a number.
//! - [`BxDateTime`]: a date-time that keeps the portal's raw text and the parsed parts.
//! - [`MultiField`] / [`MultiFieldInput`]: CRM phones, e-mails, sites and messengers.
//! - [`FileData`]: a file sent inline as `{"fileData": [name, base64]}`.
//! - [`FieldInfo`]: one entry of a `*.fields` / `*.getFields` description.
//! - [`lenient`]: `serde(with = …)` modules for optional numbers, booleans, strings, lists and
//!   maps.
//! - [`YesNo`]: a boolean that is written as `"Y"`/`"N"`.
//! - [`Semantic`] and the other string enums of the models keep values this SDK does not know
//!   in an `Other(String)` variant; numeric enums (task status, priority) in `Unknown(i64)`.

mod builder;
mod datetime;
mod enums;
mod fields;
mod file;
mod id;
pub mod lenient;
mod multifield;
pub(crate) mod via_value;
mod yes_no;

pub(crate) use builder::{field_map, multi_field_setters, setters};
pub use datetime::{BxDateTime, DateTimeParts, ParseDateTimeError};
pub(crate) use enums::{int_enum, string_enum};
pub use fields::{FieldInfo, FieldMap, FieldsEnvelope};
pub use file::FileData;
pub use id::{Id, ParseIdError};
pub use multifield::{MultiField, MultiFieldInput, MultiFieldType};
pub(crate) use via_value::via_value;
pub use yes_no::YesNo;

string_enum! {
    /// The semantic group of a CRM stage or status (`STATUS_SEMANTIC_ID`, `STAGE_SEMANTIC_ID`,
    /// `stageSemanticId`).
    pub enum Semantic {
        /// `P`: in progress.
        Process = "P",
        /// `S`: closed as a success (won, converted).
        Success = "S",
        /// `F`: closed as a failure (lost, junk).
        Failure = "F",
    }
}
