//! Rust types for catalogue parameter types.
//!
//! The catalogue gives each parameter a `type` (often a domain name: `user`, `crm_status`,
//! `crm_multifield`) and a `base` (`integer`, `string`, `array`, `any`, ...). The mapping:
//!
//! | catalogue | Rust |
//! |---|---|
//! | base `integer` (`integer`, `user`, `crm_entity`, `crm_contact`, `crm_lead`, `lead`, ...) | `i64` |
//! | base `number` (`double`) | `f64` |
//! | base `boolean` | `bool`; sent as `Y`/`N` when the description says those are the values |
//! | base `char` | `bool` sent as `Y`/`N` when the description says `Y`/`N`, else `String` |
//! | base `string` (`string`, `crm_status`, `crm_currency`) | `String` |
//! | base `date` / `datetime` | `String` (the portal's own format; no conversion) |
//! | base `object` (`object`, `time`) | `serde_json::Value` |
//! | `string[]` / `integer[]` / `array<integer>` | `Vec<String>` / `Vec<i64>` |
//! | `object[]`, `section[]`, `crm_multifield` | `Vec<serde_json::Value>` |
//! | `select` with base `array` | `Vec<String>`: always a list of field names |
//! | any other base `array` | `serde_json::Value`: a PHP array, which the docs pass as a list (`USERS`) or as a map (`filter`, `order`, `data`) under the same type |
//! | base `any`: `srting` | `String` (a typo in the docs) |
//! | base `any`: `<entity>.id` (`sale_order_payment.id`, ...) | `i64` |
//! | base `any`: `crm_currency.CURRENCY` | `String` |
//! | base `any`: `unknown`, `enum`, `file`, `LayoutDto`, `RestAppLayoutDto` | `serde_json::Value` |
//! | anything else | `serde_json::Value`, with a warning from the generator |
//!
//! A curated type from `outputs.toml` (`params = { fields = "crate::crm::LeadFields" }`) wins.

use crate::catalogue::Param;

/// The Rust type of one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ty {
    Int,
    Float,
    Bool,
    /// A `bool` that goes on the wire as `"Y"`/`"N"`.
    YesNo,
    Str,
    Value,
    VecStr,
    VecInt,
    VecValue,
    /// A curated type from `outputs.toml`.
    Curated(String),
}

impl Ty {
    /// The field type (without `Option`).
    pub(crate) fn rust(&self) -> String {
        match self {
            Self::Int => "i64".to_owned(),
            Self::Float => "f64".to_owned(),
            Self::Bool | Self::YesNo => "bool".to_owned(),
            Self::Str => "String".to_owned(),
            Self::Value => "serde_json::Value".to_owned(),
            Self::VecStr => "Vec<String>".to_owned(),
            Self::VecInt => "Vec<i64>".to_owned(),
            Self::VecValue => "Vec<serde_json::Value>".to_owned(),
            Self::Curated(path) => path.clone(),
        }
    }

    /// The element type of a list, which setters accept any iterator of.
    pub(crate) fn element(&self) -> Option<&'static str> {
        match self {
            Self::VecStr => Some("String"),
            Self::VecInt => Some("i64"),
            Self::VecValue => Some("serde_json::Value"),
            _ => None,
        }
    }

    /// The lenient reader in `methods::de` that reads a parameter of this type back.
    pub(crate) fn reader(&self) -> &'static str {
        match self {
            Self::Int => "int",
            Self::Float => "float",
            Self::Bool | Self::YesNo => "flag",
            Self::Str => "string",
            Self::VecStr => "strings",
            Self::VecInt => "ints",
            Self::Value => "value",
            Self::VecValue => "values",
            Self::Curated(_) => "typed",
        }
    }

    /// The writer in `methods::de`, for types whose wire form differs from serde's default.
    pub(crate) fn writer(&self) -> Option<&'static str> {
        match self {
            Self::YesNo => Some("yn"),
            _ => None,
        }
    }

    /// Whether it is `bool` (for clippy's excessive-bools lints).
    pub(crate) fn is_bool(&self) -> bool {
        matches!(self, Self::Bool | Self::YesNo)
    }
}

/// Whether a description lists `Y` and `N` as the values (`Возможные значения: - Y — ... - N`).
fn says_yes_no(description: &str) -> bool {
    let mut yes = false;
    let mut no = false;
    for word in description.split(|c: char| !c.is_alphanumeric()) {
        yes |= word == "Y";
        no |= word == "N";
    }
    yes && no
}

/// The element type of `T[]` / `array<T>`.
fn element_of(ty: &str) -> Option<&str> {
    ty.strip_suffix("[]")
        .or_else(|| ty.strip_prefix("array<").and_then(|t| t.strip_suffix('>')))
}

/// Maps one parameter; the second value is `false` when the mapping fell back to `Value` for
/// a type the table above does not know.
pub(crate) fn map(param: &Param, curated: Option<&String>) -> (Ty, bool) {
    if let Some(path) = curated {
        return (Ty::Curated(path.clone()), true);
    }
    if let Some(element) = element_of(&param.ty) {
        return match element {
            "string" | "srting" => (Ty::VecStr, true),
            "integer" | "int" | "user" => (Ty::VecInt, true),
            _ => (Ty::VecValue, true),
        };
    }
    let ty = param.ty.as_str();
    let yes_no = says_yes_no(&param.description);
    match param.base.as_str() {
        "integer" => (Ty::Int, true),
        "number" => (Ty::Float, true),
        "boolean" | "char" if yes_no => (Ty::YesNo, true),
        "boolean" => (Ty::Bool, true),
        "char" | "string" | "date" | "datetime" => (Ty::Str, true),
        "array" if ty == "crm_multifield" => (Ty::VecValue, true),
        "array" if param.name.eq_ignore_ascii_case("select") => (Ty::VecStr, true),
        "object" | "array" => (Ty::Value, true),
        "any" => match ty {
            "srting" | "crm_currency.CURRENCY" => (Ty::Str, true),
            "unknown" | "enum" | "file" | "LayoutDto" | "RestAppLayoutDto" => (Ty::Value, true),
            _ if ty.strip_suffix(".id").is_some() => (Ty::Int, true),
            _ => (Ty::Value, false),
        },
        _ => (Ty::Value, false),
    }
}
