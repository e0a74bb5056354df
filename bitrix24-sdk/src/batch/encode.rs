//! Parameters as a PHP-style query string, the form `batch` commands are written in.

use serde_json::{Map, Value};

/// Encodes parameters the way PHP's `parse_str` reads them back:
/// `{"fields": {"TITLE": "A&B", "PHONE": [{"VALUE": "1"}]}, "filter": {">ID": 5}}` becomes
/// `fields[TITLE]=A%26B&fields[PHONE][0][VALUE]=1&filter[%3EID]=5`.
///
/// Brackets stay literal; everything else in keys and values is percent-encoded, so `&`,
/// `?`, `%`, `[`, `]` and `#` inside values cannot break the command. Lists are indexed
/// (`[0]`, `[1]`). `true` and `false` become `1` and `0`, as PHP writes them; `null` becomes
/// an empty value (which the portal reads as "empty", as it does `null`); empty lists and maps
/// are left out, as PHP leaves them out.
pub fn encode_query(params: &Map<String, Value>) -> String {
    let mut out = String::new();
    for (key, value) in params {
        encode_value(&mut out, &escape(key), value);
    }
    out
}

fn escape(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn encode_value(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                encode_value(out, &format!("{name}[{}]", escape(key)), inner);
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                encode_value(out, &format!("{name}[{index}]"), inner);
            }
        }
        scalar => {
            if !out.is_empty() {
                out.push('&');
            }
            out.push_str(name);
            out.push('=');
            match scalar {
                Value::String(text) => out.push_str(&escape(text)),
                Value::Bool(flag) => out.push(if *flag { '1' } else { '0' }),
                Value::Number(number) => out.push_str(&number.to_string()),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The encoded pairs, sorted: map order depends on `serde_json`'s features.
    fn encode(value: Value) -> String {
        let Value::Object(map) = value else {
            unreachable!()
        };
        let encoded = encode_query(&map);
        let mut pairs: Vec<&str> = encoded.split('&').collect();
        pairs.sort_unstable();
        pairs.join("&")
    }

    #[test]
    fn nested_keys_use_brackets() {
        assert_eq!(
            encode(
                json!({ "fields": { "TITLE": "A&B ?#%", "PHONE": [{ "VALUE": "+7 999", "VALUE_TYPE": "WORK" }] } })
            ),
            "fields[PHONE][0][VALUE]=%2B7+999&fields[PHONE][0][VALUE_TYPE]=WORK&fields[TITLE]=A%26B+%3F%23%25"
        );
        assert_eq!(
            encode(json!({ "filter": { ">ID": 5, "@STATUS_ID": ["NEW", "JUNK"] } })),
            "filter[%3EID]=5&filter[%40STATUS_ID][0]=NEW&filter[%40STATUS_ID][1]=JUNK"
        );
    }

    #[test]
    fn scalars_as_php_writes_them() {
        assert_eq!(
            encode(json!({ "a": true, "b": false, "c": null, "d": 1.5, "e": -1 })),
            "a=1&b=0&c=&d=1.5&e=-1"
        );
        assert_eq!(
            encode(json!({ "select": [], "filter": {}, "id": 3 })),
            "id=3"
        );
        assert_eq!(
            encode(json!({ "id": "$result[c0][ID]" })),
            "id=%24result%5Bc0%5D%5BID%5D"
        );
        assert_eq!(encode(json!({})), "");
    }
}
