//! The generated typed requests (`bitrix24::methods`) against the official method catalogue
//! (`../shared/b24-spec`): every request names a catalogue method with the catalogue's scope,
//! no method of the covered scopes lacks a request, and idempotency follows the catalogue's
//! read/write kind except where a documented rule says otherwise.
//!
//! The catalogue is read from `BITRIX24_SPEC_DIR` (set by `.ci/run`), else from
//! `../../shared/b24-spec` next to the crate; without it the tests print why and pass.

// Helpers outside #[test] functions read fixed test data: a panic is the right failure.
#![allow(clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use bitrix24::Method;
use bitrix24::methods::{self, CATALOGUE, SUPPLEMENTARY};
use serde_json::Value;

/// Scopes whose every method must have a typed request (the list).
const SCOPES: &[&str] = &[
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

/// Catalogue methods without a scope that are covered: the event methods.
const SCOPELESS_PREFIXES: &[&str] = &["event", "events"];

/// Reads that are not idempotent: `event.offline.get` takes the events off the queue.
const NON_IDEMPOTENT_READS: &[&str] = &["event.offline.get"];

/// Writes idempotent by an explicit decision (re-registering a connector updates it).
const IDEMPOTENT_WRITES: &[&str] = &["imconnector.register"];

fn spec_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("BITRIX24_SPEC_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/b24-spec"),
        PathBuf::from,
    );
    dir.join("index.json").is_file().then_some(dir)
}

#[derive(Debug)]
struct Entry {
    scope: Option<String>,
    kind: String,
}

fn catalogue() -> Option<BTreeMap<String, Entry>> {
    let Some(dir) = spec_dir() else {
        println!(
            "spec drift: skipped, no method catalogue (set BITRIX24_SPEC_DIR or put it at ../shared/b24-spec)"
        );
        return None;
    };
    let text = std::fs::read_to_string(dir.join("index.json")).expect("index.json is readable");
    let index: Value = serde_json::from_str(&text).expect("index.json is JSON");
    let methods = index["methods"]
        .as_array()
        .expect("index.json lists methods");
    Some(
        methods
            .iter()
            .map(|m| {
                let name = m["method"].as_str().expect("a method name").to_owned();
                let entry = Entry {
                    scope: m["scope"].as_str().map(str::to_owned),
                    kind: m["kind"].as_str().expect("a kind").to_owned(),
                };
                (name, entry)
            })
            .collect(),
    )
}

fn covered(name: &str, scope: Option<&str>) -> bool {
    match scope {
        Some(scope) => SCOPES.contains(&scope),
        None => SCOPELESS_PREFIXES.contains(&name.split('.').next().unwrap_or(name)),
    }
}

fn verb(name: &str) -> String {
    name.rsplit('.').next().unwrap_or(name).to_ascii_lowercase()
}

/// A write the catalogue calls a write although it only reads (`disk.folder.getChildren`,
/// `user.search`, `crm.enum.*`).
fn reads_despite_kind(name: &str) -> bool {
    let verb = verb(name);
    verb.starts_with("get")
        || verb.starts_with("is")
        || (verb.starts_with("can") && !verb.starts_with("cancel"))
        || [
            "availabletoadd",
            "download",
            "fields",
            "findbycomm",
            "list",
            "search",
            "statuslist",
            "types",
        ]
        .contains(&verb.as_str())
        || name.starts_with("crm.enum.")
}

/// A write that sets state to the value it carries or removes something.
fn sets_state(name: &str) -> bool {
    let verb = verb(name);
    ["update", "set", "delete", "remove", "markdeleted"]
        .iter()
        .any(|p| verb.starts_with(p))
        || [
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
        ]
        .contains(&verb.as_str())
}

#[test]
fn every_request_names_a_catalogue_method_with_its_scope() {
    let Some(catalogue) = catalogue() else { return };
    let supplementary: BTreeSet<&str> = SUPPLEMENTARY.iter().copied().collect();
    let mut problems = Vec::new();
    for (name, scope, _) in CATALOGUE {
        if supplementary.contains(name) {
            // Described in the docs, missing from the catalogue: once the catalogue lists it,
            // the supplement in codegen/spec-fixes.toml must go.
            if catalogue.contains_key(*name) {
                problems.push(format!(
                    "{name}: supplementary, but the catalogue lists it now"
                ));
            }
            continue;
        }
        match catalogue.get(*name) {
            None => problems.push(format!("{name}: not in the catalogue")),
            Some(entry) if entry.scope.as_deref() != *scope => problems.push(format!(
                "{name}: scope {scope:?} here, {:?} in the catalogue",
                entry.scope
            )),
            Some(_) => {}
        }
    }
    let mut per_scope: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, scope, _) in CATALOGUE {
        *per_scope.entry(scope.unwrap_or("(none)")).or_default() += 1;
    }
    println!(
        "spec drift: {} typed requests ({} supplementary), per scope {per_scope:?}",
        CATALOGUE.len(),
        supplementary.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_covered_catalogue_method_lacks_a_request() {
    let Some(catalogue) = catalogue() else { return };
    let generated: BTreeSet<&str> = CATALOGUE.iter().map(|(name, _, _)| *name).collect();
    let covered_names: Vec<&String> = catalogue
        .iter()
        .filter(|(name, entry)| covered(name, entry.scope.as_deref()))
        .map(|(name, _)| name)
        .collect();
    let missing: Vec<&&String> = covered_names
        .iter()
        .filter(|name| !generated.contains(name.as_str()))
        .collect();
    println!(
        "spec drift: {} catalogue methods in the covered scopes, {} without a typed request",
        covered_names.len(),
        missing.len()
    );
    assert!(missing.is_empty(), "no typed request for {missing:?}");
}

#[test]
fn idempotency_follows_the_catalogue_kind_and_the_documented_rules() {
    let Some(catalogue) = catalogue() else { return };
    let mut problems = Vec::new();
    let mut exceptions = 0;
    for (name, _, idempotent) in CATALOGUE {
        let Some(entry) = catalogue.get(*name) else {
            continue;
        };
        let expected = match entry.kind.as_str() {
            "read" => !NON_IDEMPOTENT_READS.contains(name),
            _ => IDEMPOTENT_WRITES.contains(name) || reads_despite_kind(name) || sets_state(name),
        };
        exceptions += usize::from(*idempotent != (entry.kind == "read"));
        if *idempotent != expected {
            problems.push(format!(
                "{name}: IDEMPOTENT = {idempotent}, kind {}, expected {expected}",
                entry.kind
            ));
        }
    }
    // Creating and sending are never idempotent, whatever the rules say.
    for (name, _, idempotent) in CATALOGUE {
        let verb = verb(name);
        if *idempotent
            && ["add", "send", "start", "complete", "attach", "bind"].contains(&verb.as_str())
        {
            problems.push(format!(
                "{name}: a creating or sending call is marked idempotent"
            ));
        }
    }
    println!(
        "spec drift: idempotency checked for {} requests; {exceptions} differ from the catalogue kind by a documented rule",
        CATALOGUE.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn names_and_flags_of_the_types_match_the_catalogue_table() {
    // The table is generated next to the types; a few spot checks tie the two together.
    fn check<M: Method>(expected_idempotent: bool) {
        let row = CATALOGUE
            .iter()
            .find(|(name, _, _)| *name == M::NAME)
            .unwrap_or_else(|| panic!("{} is not in CATALOGUE", M::NAME));
        assert_eq!(row.2, M::IDEMPOTENT, "{}", M::NAME);
        assert_eq!(M::IDEMPOTENT, expected_idempotent, "{}", M::NAME);
    }
    check::<methods::crm::lead::Add>(false);
    check::<methods::crm::lead::Get>(true);
    check::<methods::crm::lead::Update>(true);
    check::<methods::crm::timeline::comment::Add>(false);
    check::<methods::user::Get>(true);
    check::<methods::Events>(true);
    check::<methods::event::offline::Get>(false);
    check::<methods::tasks::task::files::Attach>(false);
    check::<methods::im::message::Add>(false);
    check::<methods::imconnector::send::Messages>(false);
    check::<methods::disk::folder::GetChildren>(true);
    assert_eq!(methods::crm::lead::Add::NAME, "crm.lead.add");
    assert_eq!(
        methods::tasks::task::files::Attach::NAME,
        "tasks.task.files.attach"
    );
    let names: Vec<&str> = CATALOGUE.iter().map(|(name, _, _)| *name).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(names, sorted, "CATALOGUE is sorted and has no duplicates");
}
