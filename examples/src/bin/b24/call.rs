//! `b24 call METHOD key=value … [--json BODY]` and `b24 batch FILE.json`.

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::connect::Connection;
use crate::params::parse_pairs;
use crate::print_json;

#[derive(Debug, clap::Args)]
pub(crate) struct CallArgs {
    /// The REST method, such as crm.lead.add.
    method: String,
    /// Parameters: `key=value` (text), `key:=json` (a JSON value), PHP-style keys such as
    /// `fields[PHONE][0][VALUE]=+7999…`.
    params: Vec<String>,
    /// A JSON object of parameters; `key=value` pairs are merged over it.
    #[arg(long)]
    json: Option<String>,
    /// Print compact JSON on one line.
    #[arg(long)]
    raw: bool,
    /// Print the whole reply: result, total, next and time.
    #[arg(long)]
    meta: bool,
    /// Send again after an ambiguous failure (only for calls that are safe to repeat).
    #[arg(long)]
    idempotent: bool,
    #[command(flatten)]
    connection: Connection,
}

/// Builds the parameters of a call from `--json` and the `key=value` pairs.
pub(crate) fn build_params(
    json: Option<&str>,
    pairs: &[String],
) -> Result<Map<String, Value>, String> {
    let mut params = match json {
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err("--json must be a JSON object".to_owned()),
            Err(e) => return Err(format!("--json is not valid JSON: {e}")),
        },
        None => Map::new(),
    };
    for (key, value) in parse_pairs(pairs)? {
        params.insert(key, value);
    }
    Ok(params)
}

pub(crate) async fn call(args: CallArgs) -> Result<(), String> {
    let params = build_params(args.json.as_deref(), &args.params)?;
    let client = args.connection.client().await?;
    let reply = client
        .call_raw::<Value>(&args.method, Value::Object(params))
        .idempotent(args.idempotent)
        .send_with_meta()
        .await
        .map_err(|e| crate::describe(&e))?;
    let shown = if args.meta {
        let mut out = Map::new();
        out.insert("result".into(), reply.result);
        if let Some(total) = reply.total {
            out.insert("total".into(), total.into());
        }
        if let Some(next) = reply.next {
            out.insert("next".into(), next.into());
        }
        if let Some(time) = reply.time {
            out.insert(
                "time".into(),
                serde_json::to_value(time).unwrap_or_default(),
            );
        }
        Value::Object(out)
    } else {
        reply.result
    };
    print_json(&shown, args.raw);
    Ok(())
}

#[derive(Debug, clap::Args)]
pub(crate) struct BatchArgs {
    /// A JSON file with a map of commands: `{"key": "method?query"}` or
    /// `{"key": {"method": "…", "params": {…}}}`.
    file: PathBuf,
    /// Stop at the first failing command.
    #[arg(long)]
    halt: bool,
    /// Print compact JSON on one line.
    #[arg(long)]
    raw: bool,
    #[command(flatten)]
    connection: Connection,
}

/// Reads one command of a batch or script file: `"method?query"` or
/// `{"method": "…", "params": {…}}`; `key` names it in errors.
pub(crate) fn parse_command(key: &str, command: Value) -> Result<(String, Value), String> {
    match command {
        Value::String(line) => {
            let (method, query) = line.split_once('?').unwrap_or((line.as_str(), ""));
            if method.is_empty() {
                return Err(format!("command `{key}` has no method"));
            }
            Ok((
                method.to_owned(),
                Value::Object(crate::params::parse_query(query)?),
            ))
        }
        Value::Object(mut map) => {
            let method = map
                .remove("method")
                .and_then(|m| m.as_str().map(str::to_owned));
            let Some(method) = method else {
                return Err(format!("command `{key}` has no \"method\""));
            };
            Ok((
                method,
                map.remove("params").unwrap_or(Value::Object(Map::new())),
            ))
        }
        _ => Err(format!(
            "command `{key}` must be \"method?query\" or {{\"method\", \"params\"}}"
        )),
    }
}

pub(crate) async fn batch(args: BatchArgs) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
    let commands: Map<String, Value> = match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => map,
        _ => {
            return Err(format!(
                "{} must hold a JSON object of commands",
                args.file.display()
            ));
        }
    };
    let client = args.connection.client().await?;
    let mut batch = client.batch();
    batch.halt(args.halt);
    let mut keys = Vec::new();
    for (key, command) in commands {
        let (method, params) = parse_command(&key, command)?;
        keys.push(batch.add_raw_named::<Value>(&key, &method, params, false));
    }
    let mut reply = batch.send().await.map_err(|e| crate::describe(&e))?;
    let mut out = Map::new();
    let mut failed = false;
    for key in keys {
        let mut entry = Map::new();
        match reply.take(&key) {
            Ok(result) => {
                entry.insert("result".into(), result);
                if let Some(total) = reply.total(&key) {
                    entry.insert("total".into(), total.into());
                }
                if let Some(next) = reply.next(&key) {
                    entry.insert("next".into(), next.into());
                }
            }
            Err(error) => {
                failed = true;
                let api = error.api();
                entry.insert(
                    "error".into(),
                    api.map_or_else(|| error.to_string(), |a| a.code.as_str().to_owned())
                        .into(),
                );
                entry.insert(
                    "error_description".into(),
                    api.map_or_else(String::new, |a| a.description.clone())
                        .into(),
                );
            }
        }
        out.insert(key.key().to_owned(), Value::Object(entry));
    }
    print_json(&Value::Object(out), args.raw);
    if failed {
        Err("some commands failed (see their \"error\")".to_owned())
    } else {
        Ok(())
    }
}
