//! Command-line parameters with PHP-style keys, read into the same tree the portal builds.

use serde_json::{Map, Value};

/// Reads `key=value` (text) and `key:=json` pairs; keys may use brackets:
/// `fields[PHONE][0][VALUE]=+7999` or `select[]=ID`.
pub(crate) fn parse_pairs(pairs: &[String]) -> Result<Map<String, Value>, String> {
    let mut root = Map::new();
    for pair in pairs {
        let (key, value) = if let Some((key, json)) = pair.split_once(":=") {
            let value =
                serde_json::from_str(json).map_err(|e| format!("`{key}:=…` is not JSON: {e}"))?;
            (key, value)
        } else if let Some((key, text)) = pair.split_once('=') {
            (key, Value::String(text.to_owned()))
        } else {
            return Err(format!("`{pair}` is not key=value"));
        };
        insert(&mut root, key, value)?;
    }
    Ok(normalize(root))
}

/// Reads a query string (`a=1&fields[TITLE]=x`), as in a batch command.
pub(crate) fn parse_query(query: &str) -> Result<Map<String, Value>, String> {
    let mut root = Map::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        insert(&mut root, &key, Value::String(value.into_owned()))?;
    }
    Ok(normalize(root))
}

fn insert(root: &mut Map<String, Value>, key: &str, value: Value) -> Result<(), String> {
    let (head, path) = match key.find('[') {
        Some(open) if key.ends_with(']') && open > 0 => {
            let inner = &key[open + 1..key.len() - 1];
            (&key[..open], inner.split("][").collect::<Vec<_>>())
        }
        _ => (key, Vec::new()),
    };
    if head.is_empty() {
        return Err(format!("`{key}` has no name"));
    }
    let mut node = root.entry(head.to_owned()).or_insert(Value::Null);
    for segment in path {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else {
            return Err(format!("`{key}` mixes a value and sub-keys"));
        };
        let segment = if segment.is_empty() {
            map.keys()
                .filter_map(|k| k.parse::<u64>().ok())
                .max()
                .map_or(0, |m| m + 1)
                .to_string()
        } else {
            segment.to_owned()
        };
        node = map.entry(segment).or_insert(Value::Null);
    }
    *node = value;
    Ok(())
}

/// Maps keyed `0..n` become lists, as the portal reads them.
fn normalize(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .map(|(k, v)| (k, normalize_value(v)))
        .collect()
}

fn normalize_value(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let map = normalize(map);
            let listed = !map.is_empty()
                && map
                    .keys()
                    .enumerate()
                    .all(|(i, k)| k.parse::<usize>().ok() == Some(i));
            if listed {
                Value::Array(map.into_iter().map(|(_, v)| v).collect())
            } else {
                Value::Object(map)
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn php_keys_and_json_values() {
        let pairs: Vec<String> = [
            "fields[TITLE]=x",
            "fields[PHONE][0][VALUE]=+7999",
            "select[]=ID",
            "select[]=TITLE",
            "start:=-1",
            "filter[>ID]=5",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let params = parse_pairs(&pairs).unwrap();
        assert_eq!(
            Value::Object(params),
            json!({ "fields": { "TITLE": "x", "PHONE": [{ "VALUE": "+7999" }] }, "select": ["ID", "TITLE"], "start": -1, "filter": { ">ID": "5" } })
        );
        assert!(parse_pairs(&["oops".to_owned()]).is_err());
        assert!(parse_pairs(&["n:=nope".to_owned()]).is_err());
        assert_eq!(
            Value::Object(parse_query("ID=5&fields%5BTITLE%5D=a%26b").unwrap()),
            json!({ "ID": "5", "fields": { "TITLE": "a&b" } })
        );
    }
}
