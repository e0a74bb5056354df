//! Every documented request body of a covered method (`<method>.request.json` in
//! `../shared/fixtures-docs`, the official cURL examples) is reproducible from the typed request
//! in `bitrix24::methods`: read into the typed struct and written back, it has the same keys and
//! equal values. Normalisation: key order is ignored, numbers equal numeric strings, the `auth`
//! key is dropped (webhook calls carry no token), and top-level key case is ignored for the old
//! CRM methods the portal reads in any case (`methods::CASE_INSENSITIVE`).
//!
//! The fixtures are read from `BITRIX24_DOCS_FIXTURES` (set by `.ci/run`), else from
//! `../../shared/fixtures-docs` next to the crate; without them the test prints why and passes.

// Helpers outside #[test] functions read fixed test data: a panic is the right failure.
#![allow(clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use bitrix24::methods::{CASE_INSENSITIVE, CATALOGUE, roundtrip};
use serde_json::Value;

fn fixtures_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("BITRIX24_DOCS_FIXTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures-docs"),
        PathBuf::from,
    );
    dir.is_dir().then_some(dir)
}

/// A JSON value with order-free objects and one form for numbers and numeric strings.
#[derive(Debug, PartialEq)]
enum Norm {
    Null,
    Bool(bool),
    Number(String),
    Text(String),
    List(Vec<Norm>),
    Object(BTreeMap<String, Norm>),
}

/// `12`, `12.0` and `"12"` all become `Number("12")`.
fn number(text: &str) -> Option<String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    if let Ok(int) = trimmed.parse::<i128>() {
        return Some(int.to_string());
    }
    let float = trimmed.parse::<f64>().ok().filter(|f| f.is_finite())?;
    if float.fract() == 0.0 && float.abs() < 1e15 {
        #[allow(clippy::cast_possible_truncation, reason = "whole and below 1e15")]
        return Some((float as i64).to_string());
    }
    Some(float.to_string())
}

fn normalize(value: &Value, fold_case: bool) -> Norm {
    match value {
        Value::Null => Norm::Null,
        Value::Bool(b) => Norm::Bool(*b),
        Value::Number(n) => Norm::Number(number(&n.to_string()).unwrap_or_else(|| n.to_string())),
        Value::String(s) => number(s).map_or_else(|| Norm::Text(s.clone()), Norm::Number),
        Value::Array(items) => Norm::List(items.iter().map(|v| normalize(v, false)).collect()),
        Value::Object(map) => Norm::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = if fold_case {
                        k.to_ascii_uppercase()
                    } else {
                        k.clone()
                    };
                    (key, normalize(v, false))
                })
                .collect(),
        ),
    }
}

#[test]
fn documented_request_bodies_are_reproducible_from_the_typed_requests() {
    let Some(dir) = fixtures_dir() else {
        println!(
            "request conformance: skipped, no docs fixtures (set BITRIX24_DOCS_FIXTURES or put them at ../shared/fixtures-docs)"
        );
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures directory is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with(".request.json"))
        })
        .collect();
    files.sort();

    let (mut checked, mut passed, mut not_covered) = (0, 0, Vec::new());
    let mut failures = Vec::new();
    for path in &files {
        let file = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let name = file.trim_end_matches(".request.json");
        if !CATALOGUE.iter().any(|(n, _, _)| *n == name) {
            not_covered.push(name.to_owned());
            continue;
        }
        checked += 1;
        let text = std::fs::read_to_string(path).expect("fixture is readable");
        let mut body: Value = match serde_json::from_str(&text) {
            Ok(body) => body,
            Err(error) => {
                failures.push(format!("{name}: the fixture is not JSON: {error}"));
                continue;
            }
        };
        if let Some(map) = body.as_object_mut() {
            map.remove("auth");
        }
        let written = match roundtrip(name, &body) {
            Some(Ok(written)) => written,
            Some(Err(error)) => {
                failures.push(format!(
                    "{name}: does not read into the typed request: {error}"
                ));
                continue;
            }
            None => {
                failures.push(format!(
                    "{name}: in CATALOGUE but without a roundtrip entry"
                ));
                continue;
            }
        };
        let fold = CASE_INSENSITIVE.contains(&name);
        let expected = normalize(&body, fold);
        let actual = normalize(&written, fold);
        if expected == actual {
            passed += 1;
        } else {
            failures.push(format!(
                "{name}: written back differently\n  documented: {body}\n  typed:      {written}"
            ));
        }
    }
    println!(
        "request conformance: {} request bodies in the docs fixtures; {checked} of covered methods checked, {passed} passed; {} not covered: {not_covered:?}",
        files.len(),
        not_covered.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        checked > 0,
        "no documented request body of a covered method was found"
    );
}
