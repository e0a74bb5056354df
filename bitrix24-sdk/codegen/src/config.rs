//! The two hand-written inputs next to the catalogue: `outputs.toml` (output types and curated
//! inputs, owned by the models) and `spec-fixes.toml` (corrections to the catalogue).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use serde::Deserialize;

/// What `outputs.toml` says about one method.
#[derive(Debug, Default, Clone)]
pub(crate) struct OutputEntry {
    /// The type `result` decodes into; `serde_json::Value` when absent.
    pub(crate) output: Option<String>,
    /// The row type of a list method; `serde_json::Value` when absent.
    pub(crate) item: Option<String>,
    /// Where the rows are in `result` (`items`, `tasks`); the list itself when absent.
    pub(crate) items_key: Option<String>,
    /// The id field for keyset listing.
    pub(crate) id_field: IdField,
    /// Curated input types by exact parameter name.
    pub(crate) params: BTreeMap<String, String>,
}

/// `id_field` of a list method.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) enum IdField {
    /// Not given: the trait's default, `ID`.
    #[default]
    Default,
    /// `id_field = ""` or `false`: the method cannot be listed by id.
    Unsupported,
    /// `id_field = "id"`.
    Field(String),
}

/// All of `outputs.toml`.
#[derive(Debug, Default)]
pub(crate) struct Outputs {
    pub(crate) methods: BTreeMap<String, OutputEntry>,
}

fn string_of(value: &toml::Value, what: &str) -> Result<String, String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{what} must be a string"))
}

impl Outputs {
    /// Reads `outputs.toml`; a missing file is an empty configuration.
    pub(crate) fn load(path: &Path) -> Result<Self, String> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                eprintln!(
                    "note: {} is missing; every output is serde_json::Value",
                    path.display()
                );
                return Ok(Self::default());
            }
            Err(error) => return Err(format!("cannot read {}: {error}", path.display())),
        };
        let table: toml::Table =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut methods = BTreeMap::new();
        for (key, value) in &table {
            if key != "methods" {
                eprintln!(
                    "warning: {}: unknown top-level key `{key}` ignored",
                    path.display()
                );
                continue;
            }
            let Some(entries) = value.as_table() else {
                return Err(format!("{}: `methods` must be a table", path.display()));
            };
            for (name, entry) in entries {
                let parsed = parse_entry(entry)
                    .map_err(|e| format!("{}: methods.\"{name}\": {e}", path.display()))?;
                methods.insert(name.clone(), parsed);
            }
        }
        Ok(Self { methods })
    }
}

fn parse_entry(entry: &toml::Value) -> Result<OutputEntry, String> {
    let Some(table) = entry.as_table() else {
        return Err("must be a table".to_owned());
    };
    let mut out = OutputEntry::default();
    for (key, value) in table {
        match key.as_str() {
            "output" => out.output = Some(string_of(value, "output")?),
            "item" => out.item = Some(string_of(value, "item")?),
            "items_key" => out.items_key = Some(string_of(value, "items_key")?),
            "id_field" => {
                out.id_field = match value {
                    toml::Value::Boolean(false) => IdField::Unsupported,
                    toml::Value::String(s) if s.is_empty() => IdField::Unsupported,
                    toml::Value::String(s) => IdField::Field(s.clone()),
                    _ => return Err("id_field must be a string or false".to_owned()),
                };
            }
            "params" => {
                let Some(params) = value.as_table() else {
                    return Err("params must be a table".to_owned());
                };
                for (param, ty) in params {
                    out.params
                        .insert(param.clone(), string_of(ty, "a param type")?);
                }
            }
            // Keys the generator does not use (notes, future settings) are not an error:
            // the file is edited by hand by another part of the project.
            other => eprintln!("warning: outputs.toml: unknown key `{other}` ignored"),
        }
    }
    Ok(out)
}

/// One parameter of a supplementary method.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SupplementParam {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) ty: String,
    #[serde(default)]
    pub(crate) required: bool,
    #[serde(default)]
    pub(crate) description: String,
}

/// A method the docs describe but the catalogue lacks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Supplement {
    pub(crate) scope: Option<String>,
    pub(crate) kind: String,
    pub(crate) title: String,
    pub(crate) page: String,
    pub(crate) deprecated: Option<String>,
    pub(crate) params: Vec<SupplementParam>,
}

/// A correction to one parameter: its type, whether it is required, or the whole parameter
/// when the catalogue leaves it out (`add = true`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ParamFix {
    #[serde(rename = "type")]
    pub(crate) ty: Option<String>,
    pub(crate) required: Option<bool>,
    #[serde(default)]
    pub(crate) add: bool,
    #[serde(default)]
    pub(crate) description: String,
    #[allow(
        dead_code,
        reason = "kept in the file as the evidence; not used in the output"
    )]
    pub(crate) reason: String,
}

/// All of `spec-fixes.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Fixes {
    #[serde(default)]
    pub(crate) non_idempotent_reads: BTreeSet<String>,
    #[serde(default)]
    pub(crate) idempotent_writes: BTreeSet<String>,
    #[serde(default)]
    pub(crate) case_insensitive: BTreeSet<String>,
    #[serde(default)]
    pub(crate) params: BTreeMap<String, BTreeMap<String, ParamFix>>,
    #[serde(default)]
    pub(crate) supplement: BTreeMap<String, Supplement>,
}

impl Fixes {
    pub(crate) fn load(path: &Path) -> Result<Self, String> {
        let text =
            fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}
