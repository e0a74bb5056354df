//! Reads the method catalogue, picks the covered methods and cleans up their parameters.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::config::Fixes;

/// Scopes whose every method gets a typed request.
pub(crate) const SCOPES: &[&str] = &[
    "crm",
    "disk",
    "im",
    "imconnector",
    "imopenlines",
    "task",
    "tasks",
    "user",
    "user_basic",
    "user_brief",
];

/// Name prefixes covered although the catalogue gives them no scope: the event methods work
/// with any scope.
pub(crate) const SCOPELESS_PREFIXES: &[&str] = &["event", "events"];

/// Whether a catalogue method gets a typed request.
pub(crate) fn covered(name: &str, scope: Option<&str>) -> bool {
    scope.map_or_else(
        || {
            let first = name.split('.').next().unwrap_or(name);
            SCOPELESS_PREFIXES.contains(&first)
        },
        |scope| SCOPES.contains(&scope),
    )
}

/// Read or write, as the catalogue classifies a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Read,
    Write,
}

impl Kind {
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "read" => Ok(Self::Read),
            "write" => Ok(Self::Write),
            other => Err(format!("unknown kind `{other}`")),
        }
    }
}

/// One request parameter after clean-up.
#[derive(Debug, Clone)]
pub(crate) struct Param {
    /// Exact name, as sent on the wire.
    pub(crate) name: String,
    /// The catalogue's `type` (`integer`, `user`, `string[]`, ...).
    pub(crate) ty: String,
    /// The catalogue's `base` (`integer`, `array`, `any`, ...).
    pub(crate) base: String,
    pub(crate) required: bool,
    pub(crate) description: String,
}

/// One covered method.
#[derive(Debug, Clone)]
pub(crate) struct MethodSpec {
    pub(crate) name: String,
    pub(crate) scope: Option<String>,
    pub(crate) kind: Kind,
    /// The catalogue title without the trailing method name.
    pub(crate) title: String,
    /// `Some(successor)` (possibly empty) when the docs mark the method deprecated.
    pub(crate) deprecated: Option<String>,
    pub(crate) params: Vec<Param>,
    /// Whether the typed request is idempotent, and the rule that decided it.
    pub(crate) idempotent: bool,
    pub(crate) idempotent_rule: &'static str,
    /// Parameter names are read in any case (old CRM methods).
    pub(crate) case_insensitive: bool,
    /// `Some(doc page)` for a method the catalogue lacks (from `spec-fixes.toml`).
    pub(crate) supplement: Option<String>,
    /// What the clean-up removed, for the summary.
    pub(crate) dropped_response_table: bool,
}

#[derive(Deserialize)]
struct IndexFile {
    methods: Vec<IndexEntry>,
}

#[derive(Deserialize)]
struct IndexEntry {
    method: String,
    scope: Option<String>,
    kind: String,
    title: Option<String>,
}

#[derive(Deserialize)]
struct MethodFile {
    method: String,
    scope: Option<String>,
    kind: String,
    #[serde(default)]
    params: Vec<RawParam>,
    #[serde(default)]
    deprecated: Value,
}

#[derive(Deserialize)]
struct RawParam {
    name: String,
    #[serde(rename = "type", default)]
    ty: String,
    #[serde(default)]
    base: String,
    /// `true`, `false` or the string `"unknown"`.
    #[serde(default)]
    required: Value,
    #[serde(default)]
    description: String,
}

/// Verbs (the last name segment, lower case) of writes that only read: the catalogue marks
/// every method that is not `get`/`list`/`fields` as a write.
fn reads_despite_kind(name: &str, verb: &str) -> bool {
    const READ_VERBS: &[&str] = &[
        "availabletoadd",
        "download",
        "fields",
        "findbycomm",
        "list",
        "search",
        "statuslist",
        "types",
    ];
    verb.starts_with("get")
        || verb.starts_with("is")
        // `can*` asks a question (`canmovetask`); `cancel` would change something.
        || (verb.starts_with("can") && !verb.starts_with("cancel"))
        || READ_VERBS.contains(&verb)
        // crm.enum.*: fixed lists of enumeration values.
        || name.starts_with("crm.enum.")
}

/// Verbs of writes that set state to what the request carries, or remove something: sending
/// them twice leaves the portal as sending them once.
fn sets_state(verb: &str) -> bool {
    const PREFIXES: &[&str] = &["update", "set", "delete", "remove", "markdeleted"];
    const EXACT: &[&str] = &[
        "unbind",
        "unregister",
        "pin",
        "unpin",
        "pinall",
        "unpinall",
        "mute",
        "unmute",
        "read",
        "unread",
    ];
    PREFIXES.iter().any(|p| verb.starts_with(p)) || EXACT.contains(&verb)
}

/// The idempotency rule, documented in the generated `methods` module:
/// 1. reads (catalogue kind `read`) are idempotent, except the reads listed in
///    `spec-fixes.toml` (`event.offline.get` takes events off the queue);
/// 2. writes that only read (`get*`, `is*`, `can*`, `search`, `fields`, `list`, `crm.enum.*`, ...)
///    are idempotent;
/// 3. writes that set state to a given value or remove something (`update*`, `set*`,
///    `delete*`, `remove*`, `unbind`, `unregister`, `pin`/`unpin`, `mute`/`unmute`,
///    `read`/`unread`, `markdeleted`) are idempotent, and so are the writes listed in
///    `spec-fixes.toml`;
/// 4. every other write (`add`, `send`, `start`, `complete`, `copy`, `upload`, `attach`,
///    `import`, `bind`, `register`, ...) is not.
pub(crate) fn idempotency(name: &str, kind: Kind, fixes: &Fixes) -> (bool, &'static str) {
    let verb = name.rsplit('.').next().unwrap_or(name).to_ascii_lowercase();
    match kind {
        Kind::Read if fixes.non_idempotent_reads.contains(name) => {
            (false, "a read with a side effect, see spec-fixes.toml")
        }
        Kind::Read => (true, "a read"),
        Kind::Write if fixes.idempotent_writes.contains(name) => {
            (true, "a write that is safe to repeat, see spec-fixes.toml")
        }
        Kind::Write if reads_despite_kind(name, &verb) => {
            (true, "a write in the catalogue that only reads")
        }
        Kind::Write if sets_state(&verb) => (
            true,
            "a write that sets state to the given value or removes something",
        ),
        Kind::Write => (false, "a write"),
    }
}

fn strip_title(title: &str, name: &str) -> String {
    let title = title.trim();
    title
        .strip_suffix(name)
        .map_or(title, str::trim_end)
        .to_owned()
}

fn deprecation(value: &Value) -> Option<String> {
    match value {
        Value::Bool(true) => Some(String::new()),
        Value::String(s) => Some(s.clone()),
        Value::Object(map) => Some(
            map.get("successor")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        ),
        _ => None,
    }
}

/// Cleans the parameter list:
/// - a table that holds `time` of type `time` is the response table the docs parser took for
///   the parameters (`crm.lead.fields`, `im.revision.get`, ...): the method has no documented
///   parameters;
/// - names with a dot (`fields.CONTACT_ID`, `flowData.id`) describe a key inside the parent
///   parameter, and names with `...` are patterns (`UF_...`): neither is a top-level parameter;
/// - `start` is never required: the list machinery sets it;
/// - repeated names keep their first entry;
/// - `spec-fixes.toml` corrects types and required flags and adds parameters the catalogue
///   leaves out.
fn clean_params(
    name: &str,
    raw: Vec<RawParam>,
    fixes: &Fixes,
) -> Result<(Vec<Param>, bool), String> {
    let response_table = raw.iter().any(|p| p.name == "time" && p.ty == "time");
    let raw = if response_table { Vec::new() } else { raw };
    let param_fixes = fixes.params.get(name);
    let mut seen = BTreeSet::new();
    let mut params = Vec::new();
    for p in raw {
        if p.name.contains('.') || p.name.is_empty() || !seen.insert(p.name.clone()) {
            continue;
        }
        let mut param = Param {
            required: p.required == Value::Bool(true) && p.name != "start",
            name: p.name,
            ty: p.ty,
            base: p.base,
            description: p.description,
        };
        if let Some(fix) = param_fixes.and_then(|f| f.get(&param.name)) {
            if fix.add {
                return Err(format!(
                    "spec-fixes.toml adds `{}` to `{name}`, but the catalogue has it now: remove the fix",
                    param.name
                ));
            }
            if let Some(ty) = &fix.ty {
                param.base = base_of(ty);
                param.ty.clone_from(ty);
            }
            if let Some(required) = fix.required {
                param.required = required;
            }
        }
        params.push(param);
    }
    for (param, fix) in param_fixes.into_iter().flatten() {
        if seen.contains(param) {
            continue;
        }
        let (true, Some(ty)) = (fix.add, &fix.ty) else {
            return Err(format!(
                "spec-fixes.toml fixes `{name}` parameter `{param}`, which the catalogue does not have (use add = true and a type)"
            ));
        };
        params.push(Param {
            name: param.clone(),
            ty: ty.clone(),
            base: base_of(ty),
            required: fix.required.unwrap_or(false),
            description: fix.description.clone(),
        });
    }
    Ok((params, response_table))
}

/// The catalogue's `base` for a type written in `spec-fixes.toml`.
fn base_of(ty: &str) -> String {
    if ty.ends_with("[]") || ty.starts_with("array") {
        "array".to_owned()
    } else {
        ty.to_owned()
    }
}

/// Loads every covered method, catalogue and supplements, sorted by name.
pub(crate) fn load(spec: &Path, fixes: &Fixes) -> Result<Vec<MethodSpec>, String> {
    let index_path = spec.join("index.json");
    let index: IndexFile = serde_json::from_str(
        &fs::read_to_string(&index_path)
            .map_err(|e| format!("cannot read {}: {e}", index_path.display()))?,
    )
    .map_err(|e| format!("{}: {e}", index_path.display()))?;

    let mut methods = BTreeMap::new();
    for entry in index.methods {
        if !covered(&entry.method, entry.scope.as_deref()) {
            continue;
        }
        let path = spec.join("methods").join(format!("{}.json", entry.method));
        let file: MethodFile = serde_json::from_str(
            &fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        if file.method != entry.method || file.scope != entry.scope || file.kind != entry.kind {
            return Err(format!(
                "{}: name, scope or kind differ from index.json",
                path.display()
            ));
        }
        let kind = Kind::parse(&entry.kind).map_err(|e| format!("{}: {e}", entry.method))?;
        let (params, dropped_response_table) = clean_params(&entry.method, file.params, fixes)?;
        let (idempotent, idempotent_rule) = idempotency(&entry.method, kind, fixes);
        let method = MethodSpec {
            title: strip_title(entry.title.as_deref().unwrap_or_default(), &entry.method),
            deprecated: deprecation(&file.deprecated),
            case_insensitive: fixes.case_insensitive.contains(&entry.method),
            supplement: None,
            name: entry.method,
            scope: entry.scope,
            kind,
            params,
            idempotent,
            idempotent_rule,
            dropped_response_table,
        };
        methods.insert(method.name.clone(), method);
    }

    for (name, sup) in &fixes.supplement {
        if methods.contains_key(name) {
            return Err(format!(
                "spec-fixes.toml supplements `{name}`, but the catalogue now lists it: remove the supplement"
            ));
        }
        let kind = Kind::parse(&sup.kind).map_err(|e| format!("supplement {name}: {e}"))?;
        let (idempotent, idempotent_rule) = idempotency(name, kind, fixes);
        let params = sup
            .params
            .iter()
            .map(|p| Param {
                name: p.name.clone(),
                ty: p.ty.clone(),
                base: base_of(&p.ty),
                required: p.required,
                description: p.description.clone(),
            })
            .collect();
        methods.insert(
            name.clone(),
            MethodSpec {
                name: name.clone(),
                scope: sup.scope.clone(),
                kind,
                title: sup.title.clone(),
                deprecated: sup.deprecated.clone(),
                params,
                idempotent,
                idempotent_rule,
                case_insensitive: fixes.case_insensitive.contains(name),
                supplement: Some(sup.page.clone()),
                dropped_response_table: false,
            },
        );
    }

    for name in fixes
        .case_insensitive
        .iter()
        .chain(&fixes.non_idempotent_reads)
        .chain(&fixes.idempotent_writes)
        .chain(fixes.params.keys())
    {
        if !methods.contains_key(name) {
            return Err(format!(
                "spec-fixes.toml names `{name}`, which is not a covered method"
            ));
        }
    }
    Ok(methods.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_rule() {
        let fixes = Fixes::default();
        assert!(idempotency("crm.lead.get", Kind::Read, &fixes).0);
        assert!(!idempotency("crm.lead.add", Kind::Write, &fixes).0);
        assert!(idempotency("crm.lead.update", Kind::Write, &fixes).0);
        assert!(idempotency("disk.folder.getChildren", Kind::Write, &fixes).0);
        assert!(idempotency("crm.enum.ownertype", Kind::Write, &fixes).0);
        assert!(!idempotency("im.message.add", Kind::Write, &fixes).0);
        assert!(!idempotency("tasks.task.complete", Kind::Write, &fixes).0);
        assert!(idempotency("event.unbind", Kind::Write, &fixes).0);
        assert!(!idempotency("event.bind", Kind::Write, &fixes).0);
    }

    #[test]
    fn coverage() {
        assert!(covered("crm.lead.add", Some("crm")));
        assert!(covered("imconnector.send.messages", Some("imopenlines")));
        assert!(covered("event.bind", None));
        assert!(!covered("placement.get", None));
        assert!(!covered("user.option.get", Some("базовый")));
    }
}
