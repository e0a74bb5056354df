//! `batch`: up to 50 sub-calls in one request, run in order, each charged to its own method.

use serde_json::{Map, Value, json};

use super::params::{Params, parse_query, value_bool, value_str};
use super::registry::{Caller, Emitted};
use super::reply::Fail;
use super::server::{Shared, call};

/// The documented cap on sub-calls.
const MAX_COMMANDS: usize = 50;

/// Runs a batch; returns the `result` object, the number of commands, and the events raised.
pub(crate) fn run(
    shared: &Shared,
    caller: &Caller,
    params: &Params,
) -> (Result<Value, Fail>, usize, Vec<Emitted>) {
    let commands: Vec<(String, String)> = match params.get("cmd") {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| (k.clone(), value_str(v).unwrap_or_default()))
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), value_str(v).unwrap_or_default()))
            .collect(),
        _ => {
            return (
                Err(Fail::bad_request("ERROR_BATCH_EMPTY", "Batch is empty")),
                0,
                Vec::new(),
            );
        }
    };
    let count = commands.len();
    let halt = params.get("halt").and_then(value_bool).unwrap_or(false);

    let mut results = Map::new();
    let mut errors = Map::new();
    let mut totals = Map::new();
    let mut nexts = Map::new();
    let mut times = Map::new();
    let mut emitted_all = Vec::new();
    for (index, (key, command)) in commands.into_iter().enumerate() {
        // Past the cap the portal answers each extra command with an error instead of
        // refusing the whole request (seen on live portals; the docs word it both ways).
        if index >= MAX_COMMANDS {
            errors.insert(key, json!({ "error": "ERROR_BATCH_LENGTH_EXCEEDED", "error_description": "Max batch length exceeded" }));
            continue;
        }
        let started = shared.clock.unix();
        let (method, query) = command.split_once('?').unwrap_or((command.as_str(), ""));
        let mut sub_params = parse_query(query);
        let so_far = json!({
            "result": &results,
            "result_error": &errors,
            "result_total": &totals,
            "result_next": &nexts,
            "result_time": &times,
        });
        resolve_references(&mut sub_params, &so_far);
        let outcome = if method.eq_ignore_ascii_case("batch") {
            Err(Fail::new(
                405,
                "ERROR_BATCH_METHOD_NOT_ALLOWED",
                "Method is not allowed for batch usage",
            ))
        } else {
            // A sub-call runs as the batch's caller; its own `auth` is ignored.
            sub_params.remove("auth");
            let (outcome, emitted) = call(shared, caller, method, &Params::new(sub_params), false);
            emitted_all.extend(emitted);
            outcome
        };
        match outcome {
            Ok((reply, processing, _operating)) => {
                results.insert(key.clone(), reply.result);
                if let Some(total) = reply.total {
                    totals.insert(key.clone(), json!(total));
                }
                if let Some(next) = reply.next {
                    nexts.insert(key.clone(), json!(next));
                }
                // As in the documented example, sub-call times carry no `operating`.
                let finish = started + processing;
                times.insert(
                    key,
                    json!({
                        "start": started,
                        "finish": finish,
                        "duration": processing,
                        "processing": processing,
                        "date_start": shared.clock.iso(),
                        "date_finish": shared.clock.iso(),
                    }),
                );
            }
            Err(fail) => {
                errors.insert(
                    key,
                    json!({ "error": fail.code, "error_description": fail.description }),
                );
                if halt {
                    break;
                }
            }
        }
    }
    let result = json!({
        "result": empty_as_list(results),
        "result_error": empty_as_list(errors),
        "result_total": empty_as_list(totals),
        "result_next": empty_as_list(nexts),
        "result_time": empty_as_list(times),
    });
    (Ok(result), count, emitted_all)
}

/// PHP encodes an empty array as `[]`, so empty members of the reply are lists.
fn empty_as_list(map: Map<String, Value>) -> Value {
    if map.is_empty() {
        Value::Array(Vec::new())
    } else {
        Value::Object(map)
    }
}

/// Replaces references to earlier commands (`$result[key][field]…`, and likewise
/// `$result_next`, `$result_total`, `$result_error`, `$result_time`) in the parameters, keys
/// included, after the query string was decoded, as the portal does:
///
/// - a value that is nothing but a reference becomes the referenced value, whatever its type;
/// - a reference inside a longer text is replaced only when it points at a text;
/// - a path that stops resolving leaves the last value it reached (so a reference to row 49 of
///   a short page yields the whole page, and one to a failed command yields `null`).
fn resolve_references(params: &mut Map<String, Value>, so_far: &Value) {
    let entries: Vec<(String, Value)> = std::mem::take(params).into_iter().collect();
    for (key, mut value) in entries {
        resolve_value(&mut value, so_far);
        let key = match resolve_text(&key, so_far) {
            Value::String(text) => text,
            _ => key,
        };
        params.insert(key, value);
    }
}

fn resolve_value(value: &mut Value, so_far: &Value) {
    match value {
        Value::String(text) if text.contains('$') => *value = resolve_text(text, so_far),
        Value::Object(map) => resolve_references(map, so_far),
        Value::Array(items) => items.iter_mut().for_each(|v| resolve_value(v, so_far)),
        _ => {}
    }
}

const SOURCES: [&str; 5] = [
    "result_error",
    "result_total",
    "result_next",
    "result_time",
    "result",
];

/// Resolves the references in one text.
fn resolve_text(text: &str, so_far: &Value) -> Value {
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    while let Some(found) = text[rest..].find('$') {
        let at = rest + found;
        out.push_str(&text[rest..at]);
        let Some((value, end)) = reference_at(text, at, so_far) else {
            out.push('$');
            rest = at + 1;
            continue;
        };
        if at == 0 && end == text.len() {
            return value;
        }
        match value {
            Value::String(s) => out.push_str(&s),
            // A non-text value inside a longer text is left as written.
            _ => out.push_str(&text[at..end]),
        }
        rest = end;
    }
    out.push_str(&text[rest..]);
    Value::String(out)
}

/// Reads the reference starting at the `$` at `at`; returns its value and where it ends.
fn reference_at(text: &str, at: usize, so_far: &Value) -> Option<(Value, usize)> {
    let after = &text[at + 1..];
    let source = SOURCES
        .iter()
        .find(|s| after.starts_with(**s) && after[s.len()..].starts_with('['))?;
    let mut pos = at + 1 + source.len();
    let mut current = so_far.get(*source)?;
    let mut walking = true;
    while text[pos..].starts_with('[') {
        let close = text[pos..].find(']')? + pos;
        let segment = &text[pos + 1..close];
        if walking {
            let next = match current {
                Value::Object(map) => map.get(segment),
                Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            };
            match next {
                Some(next) => current = next,
                None if std::ptr::eq(current, so_far.get(*source)?) => current = &Value::Null,
                None => walking = false,
            }
        }
        pos = close + 1;
    }
    Some((current.clone(), pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_like_the_portal() {
        let so_far = json!({
            "result": { "get_user": { "ID": "7", "UF_DEPARTMENT": [1, 2] }, "list": [{ "ID": "9" }] },
            "result_next": { "list": 50 },
        });
        let mut params = parse_query(
            "ID=$result[get_user][UF_DEPARTMENT][0]&filter[>ID]=$result[list][0][ID]&all=$result[get_user][UF_DEPARTMENT]\
             &text=a$result[get_user][ID]b&number_in_text=a$result[get_user][UF_DEPARTMENT][0]b\
             &short=$result[list][49][ID]&failed=$result[nope][ID]&start=$result_next[list]&price=5$",
        );
        resolve_references(&mut params, &so_far);
        assert_eq!(params["ID"], json!(1));
        assert_eq!(params["filter"][">ID"], "9");
        assert_eq!(params["all"], json!([1, 2]));
        assert_eq!(params["text"], "a7b");
        assert_eq!(
            params["number_in_text"],
            "a$result[get_user][UF_DEPARTMENT][0]b"
        );
        assert_eq!(
            params["short"],
            json!([{ "ID": "9" }]),
            "a path that stops resolving keeps what it reached"
        );
        assert_eq!(params["failed"], Value::Null);
        assert_eq!(params["start"], json!(50));
        assert_eq!(params["price"], "5$");
    }
}
