//! `b24 record [--out DIR] METHOD key=value …` and `b24 record --script FILE.json`: calls
//! methods with the SDK's recorder on, so each request and reply is written as a scrubbed
//! fixture (`DIR/<scope>/<method>/<case>.json`), and says which files each call wrote.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::Value;

use crate::call::{build_params, parse_command};
use crate::connect::Connection;

#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["method", "script"]))]
pub(crate) struct RecordArgs {
    /// The REST method to record, such as user.current.
    method: Option<String>,
    /// Parameters, as for `b24 call`: `key=value` (text), `key:=json` (a JSON value).
    #[arg(requires = "method")]
    params: Vec<String>,
    /// A JSON object of parameters; `key=value` pairs are merged over it.
    #[arg(long, requires = "method")]
    json: Option<String>,
    /// A JSON file of calls to record, in order: a list, or a map of named calls, each
    /// `"method?query"` or `{"method": "…", "params": {…}}`.
    #[arg(long, conflicts_with = "method")]
    script: Option<PathBuf>,
    /// Where the fixtures go.
    #[arg(long, default_value = "fixtures")]
    out: PathBuf,
    /// Send again after an ambiguous failure (only for calls that are safe to repeat).
    #[arg(long)]
    idempotent: bool,
    #[command(flatten)]
    connection: Connection,
}

/// The calls to record: a label for messages, the method and its parameters.
type Calls = Vec<(String, String, Value)>;

fn calls(args: &RecordArgs) -> Result<Calls, String> {
    if let Some(method) = &args.method {
        let params = build_params(args.json.as_deref(), &args.params)?;
        return Ok(vec![(
            method.clone(),
            method.clone(),
            Value::Object(params),
        )]);
    }
    let Some(script) = &args.script else {
        return Err("name a METHOD or a --script FILE".to_owned());
    };
    let text = std::fs::read_to_string(script)
        .map_err(|e| format!("cannot read {}: {e}", script.display()))?;
    let commands: Vec<(String, Value)> = match serde_json::from_str(&text) {
        Ok(Value::Array(list)) => list
            .into_iter()
            .enumerate()
            .map(|(i, command)| (i.to_string(), command))
            .collect(),
        Ok(Value::Object(map)) => map.into_iter().collect(),
        _ => {
            return Err(format!(
                "{} must hold a JSON list or object of calls",
                script.display()
            ));
        }
    };
    commands
        .into_iter()
        .map(|(key, command)| {
            let (method, params) = parse_command(&key, command)?;
            let label = if key.parse::<usize>().is_ok() {
                method.clone()
            } else {
                format!("{key} ({method})")
            };
            Ok((label, method, params))
        })
        .collect()
}

/// Every file under `dir` with when it was last written and its size.
type Listing = BTreeMap<PathBuf, (Option<SystemTime>, u64)>;

fn list_files(dir: &Path, into: &mut Listing) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.metadata() {
            Ok(meta) if meta.is_dir() => list_files(&path, into),
            Ok(meta) => {
                into.insert(path, (meta.modified().ok(), meta.len()));
            }
            Err(_) => {}
        }
    }
}

fn listing(dir: &Path) -> Listing {
    let mut files = Listing::new();
    list_files(dir, &mut files);
    files
}

/// The files written since `before`.
fn written_since(before: &Listing, dir: &Path) -> (Listing, Vec<PathBuf>) {
    let after = listing(dir);
    let changed = after
        .iter()
        .filter(|(path, stamp)| before.get(*path) != Some(stamp))
        .map(|(path, _)| path.clone())
        .collect();
    (after, changed)
}

pub(crate) async fn record(args: RecordArgs) -> Result<(), String> {
    let calls = calls(&args)?;
    let client = args
        .connection
        .builder()
        .await?
        .record_to(&args.out)
        .build()
        .map_err(|e| e.to_string())?;

    let mut files = listing(&args.out);
    let mut written = Vec::new();
    let mut failed = 0_usize;
    for (label, method, params) in &calls {
        let outcome = client
            .call_raw::<Value>(method, params.clone())
            .idempotent(args.idempotent)
            .await;
        let (after, changed) = written_since(&files, &args.out);
        files = after;
        if let Err(error) = &outcome {
            failed += 1;
            // The SDK's message already starts with the method.
            let key = label.split_once(" (").map(|(key, _)| format!("{key}: "));
            eprintln!("{}{}", key.unwrap_or_default(), crate::describe(error));
        }
        if changed.is_empty() {
            say!("{label}: nothing recorded (no reply from the portal)");
        }
        for path in changed {
            say!("{label}: wrote {}", path.display());
            written.push(path);
        }
    }
    check_no_secret(&written, &args.connection.secrets().await)?;
    say!(
        "recorded {} of {} calls into {} ({} files)",
        calls.len() - failed,
        calls.len(),
        args.out.display(),
        written.len()
    );
    if failed > 0 {
        return Err(format!(
            "{failed} of {} calls failed; their error replies were recorded too",
            calls.len()
        ));
    }
    Ok(())
}

/// The SDK scrubs fixtures before writing them; this checks the result once more against the
/// secrets the command was given, and removes any file that still holds one.
fn check_no_secret(files: &[PathBuf], secrets: &[String]) -> Result<(), String> {
    let mut leaked = Vec::new();
    for path in files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        if secrets.iter().any(|secret| text.contains(secret.as_str())) {
            let _ = std::fs::remove_file(path);
            leaked.push(path.display().to_string());
        }
    }
    if leaked.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "removed fixtures that still held a secret: {}",
            leaked.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixture_holding_a_secret_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let clean = dir.path().join("clean.json");
        let leaky = dir.path().join("leaky.json");
        std::fs::write(&clean, r#"{"auth":"[redacted]"}"#).unwrap();
        std::fs::write(&leaky, r#"{"note":"wh-secret-1"}"#).unwrap();
        let files = [clean.clone(), leaky.clone()];
        let error = check_no_secret(&files, &["wh-secret-1".to_owned()]).unwrap_err();
        assert!(
            error.contains("leaky.json") && !error.contains("wh-secret-1"),
            "{error}"
        );
        assert!(clean.exists() && !leaky.exists());
        assert!(check_no_secret(&[clean], &["wh-secret-1".to_owned()]).is_ok());
    }

    #[test]
    fn scripts_are_lists_or_maps_of_commands() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("calls.json");
        std::fs::write(
            &script,
            r#"["user.current", {"method": "crm.lead.get", "params": {"id": 1}}]"#,
        )
        .unwrap();
        let args = |script: &Path| RecordArgs {
            method: None,
            params: Vec::new(),
            json: None,
            script: Some(script.to_owned()),
            out: PathBuf::from("fx"),
            idempotent: false,
            connection: Connection {
                webhook: None,
                tokens_file: None,
            },
        };
        let listed = calls(&args(&script)).unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[1].1, "crm.lead.get");
        assert_eq!(listed[1].2, serde_json::json!({ "id": 1 }));

        std::fs::write(&script, r#"{"me": "user.current?x=1"}"#).unwrap();
        let named = calls(&args(&script)).unwrap();
        assert_eq!(named[0].0, "me (user.current)");
        assert_eq!(named[0].2, serde_json::json!({ "x": "1" }));

        std::fs::write(&script, r#""user.current""#).unwrap();
        assert!(calls(&args(&script)).is_err());
        std::fs::write(&script, r"[42]").unwrap();
        assert!(calls(&args(&script)).is_err());
    }

    #[test]
    fn written_files_are_those_new_or_changed() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("a").join("old.json");
        std::fs::create_dir_all(old.parent().unwrap()).unwrap();
        std::fs::write(&old, "{}").unwrap();
        let before = listing(dir.path());
        let new = dir.path().join("b").join("new.json");
        std::fs::create_dir_all(new.parent().unwrap()).unwrap();
        std::fs::write(&new, "{}").unwrap();
        let (_, changed) = written_since(&before, dir.path());
        assert_eq!(changed, vec![new]);
    }
}
