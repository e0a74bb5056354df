//! `crm.duplicate.findbycomm` (api-reference/crm/duplicates/crm-duplicate-find-by-comm.md):
//! leads, contacts and companies that have one of the given phones or e-mails.

use serde_json::{Map, Value, json};

use crate::sandbox::list::Table;
use crate::sandbox::params::value_str;
use crate::sandbox::registry::{Ctx, Registry};
use crate::sandbox::reply::{Fail, Outcome, Reply};

/// At most this many values per call, and this many ids per type: once a type has this many
/// matches, the types after it are not searched (the page's "features" section).
const LIMIT: usize = 20;

/// The digits of a phone number, as the portal compares them: formatting is ignored, and so is
/// an extension (`доб.`, `ext`, `#`, `,`, `;`); a Russian `8` trunk prefix equals `+7`.
pub(crate) fn phone_key(phone: &str) -> String {
    let mut digits = String::new();
    for c in phone.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else if (c.is_alphabetic() || matches!(c, '#' | ',' | ';')) && !digits.is_empty() {
            break;
        }
    }
    if digits.len() == 11 && digits.starts_with('8') {
        digits.replace_range(..1, "7");
    }
    digits
}

fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

fn matches(table: &Table, column: &str, keys: &[String], key: fn(&str) -> String) -> Vec<u64> {
    table
        .rows
        .iter()
        .filter(|(_, row)| {
            row.get(column)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|item| {
                    let value = item.get("VALUE").and_then(value_str).unwrap_or_default();
                    let value = key(&value);
                    !value.is_empty() && keys.contains(&value)
                })
        })
        .map(|(id, _)| *id)
        .take(LIMIT)
        .collect()
}

/// `crm.duplicate.findbycomm` → `{LEAD: [ids], CONTACT: [ids], COMPANY: [ids]}` with the types
/// that have matches, or `[]` when none has.
fn find_by_comm(ctx: &mut Ctx<'_>) -> Outcome {
    let kind = ctx
        .params
        .str("type")
        .map(|t| t.trim().to_ascii_uppercase())
        .unwrap_or_default();
    if kind.is_empty() {
        return Err(Fail::bad_request(
            "Communication type is not defined",
            "Parameter 'type' is required.",
        ));
    }
    let (column, key): (&str, fn(&str) -> String) = match kind.as_str() {
        "PHONE" => ("PHONE", phone_key),
        "EMAIL" => ("EMAIL", email_key),
        other => {
            return Err(Fail::bad_request(
                format!("Communication type '{other}' is not supported in current context"),
                "Parameter 'type' is invalid.",
            ));
        }
    };
    let values: Vec<String> = match ctx.params.get("values") {
        Some(Value::Array(items)) => items.iter().filter_map(value_str).collect(),
        Some(Value::Object(map)) => map.values().filter_map(value_str).collect(),
        Some(other) => value_str(other).into_iter().collect(),
        None => Vec::new(),
    };
    let keys: Vec<String> = values
        .iter()
        .map(|v| key(v))
        .filter(|k| !k.is_empty())
        .collect();
    if keys.is_empty() {
        return Err(Fail::bad_request(
            "Communication values is not defined",
            "Parameter 'values' is required.",
        ));
    }
    // The limit is documented; the error for passing more is not, so this one is a guess.
    if values.len() > LIMIT {
        return Err(Fail::bad_request(
            "Too many communication values",
            format!("Parameter 'values' may have at most {LIMIT} items."),
        ));
    }
    let only = ctx
        .params
        .str("entity_type")
        .map(|t| t.trim().to_ascii_uppercase())
        .filter(|t| !t.is_empty());
    let crm = &ctx.state.crm;
    let mut out = Map::new();
    for (name, table) in [
        ("LEAD", &crm.leads),
        ("CONTACT", &crm.contacts),
        ("COMPANY", &crm.companies),
    ] {
        if only.as_deref().is_some_and(|only| only != name) {
            continue;
        }
        let ids = matches(table, column, &keys, key);
        let full = ids.len() >= LIMIT;
        if !ids.is_empty() {
            out.insert(name.to_owned(), json!(ids));
        }
        if full {
            break;
        }
    }
    if out.is_empty() {
        return Ok(Reply::new(json!([])));
    }
    Ok(Reply::new(Value::Object(out)))
}

/// Registers `crm.duplicate.findbycomm`.
pub(crate) fn register(registry: &mut Registry) {
    registry.method("crm.duplicate.findbycomm", find_by_comm);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::crm::entity::put_raw;
    use crate::sandbox::crm::testing::{call, ok};
    use crate::sandbox::crm::{CONTACT, LEAD};
    use crate::sandbox::state::State;

    #[test]
    fn phones_compare_by_digits() {
        assert_eq!(phone_key("+7 (999) 123-45-67"), "79991234567");
        assert_eq!(phone_key("8 999 123 45 67"), "79991234567");
        assert_eq!(phone_key("+7 999 123-45-67 доб. 12"), "79991234567");
        assert_eq!(phone_key("555888"), "555888");
    }

    #[test]
    fn finds_by_phone_and_email() {
        let mut state = State::default();
        let phone = |value: &str| -> Map<String, Value> {
            let Value::Object(map) =
                json!({ "PHONE": [{ "VALUE": value }], "EMAIL": [{ "VALUE": "A@Example.com" }] })
            else {
                unreachable!()
            };
            map
        };
        put_raw(&LEAD, &mut state.crm, 3, &phone("+7 (999) 123-45-67"));
        put_raw(&CONTACT, &mut state.crm, 8, &phone("89991234567"));
        put_raw(&CONTACT, &mut state.crm, 9, &phone("+1 555 0100"));
        let found = ok(
            &mut state,
            find_by_comm,
            json!({ "type": "PHONE", "values": ["79991234567"] }),
        );
        assert_eq!(found, json!({ "LEAD": [3], "CONTACT": [8] }));
        let found = ok(
            &mut state,
            find_by_comm,
            json!({ "type": "email", "values": ["a@example.COM"], "entity_type": "CONTACT" }),
        );
        assert_eq!(found, json!({ "CONTACT": [8, 9] }));
        assert_eq!(
            ok(
                &mut state,
                find_by_comm,
                json!({ "type": "PHONE", "values": ["000"] })
            ),
            json!([])
        );
        let error = call(&mut state, find_by_comm, json!({ "values": ["1"] }))
            .0
            .unwrap_err();
        assert_eq!(error.code, "Communication type is not defined");
        let error = call(&mut state, find_by_comm, json!({ "type": "PHONE" }))
            .0
            .unwrap_err();
        assert_eq!(error.code, "Communication values is not defined");
        let error = call(
            &mut state,
            find_by_comm,
            json!({ "type": "FAX", "values": ["1"] }),
        )
        .0
        .unwrap_err();
        assert_eq!(
            error.code,
            "Communication type 'FAX' is not supported in current context"
        );
        let many: Vec<String> = (0..21).map(|n| n.to_string()).collect();
        assert!(
            call(
                &mut state,
                find_by_comm,
                json!({ "type": "PHONE", "values": many })
            )
            .0
            .is_err()
        );
    }
}
