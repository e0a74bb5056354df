//! Request parameters as the portal sees them: one tree, whether they came as JSON, as a
//! form body or in the query string with PHP-style brackets (`fields[PHONE][0][VALUE]=…`).

use serde_json::{Map, Value};

use super::reply::Fail;

/// Parses `a=1&fields[TITLE]=x&select[]=ID` into a JSON tree (every value a string, as PHP
/// sees a form).
pub(crate) fn parse_query(query: &str) -> Map<String, Value> {
    let mut root = Map::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        insert_pair(&mut root, &key, Value::String(value.into_owned()));
    }
    normalize_map(root)
}

/// Inserts one `key[a][b][]` = `value` pair into `root`.
pub(crate) fn insert_pair(root: &mut Map<String, Value>, key: &str, value: Value) {
    let (head, path) = split_key(key);
    if path.is_empty() {
        root.insert(head.to_owned(), value);
        return;
    }
    let mut node = root
        .entry(head.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    for (index, segment) in path.iter().enumerate() {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let Value::Object(map) = node else { return };
        // `[]` appends, as in PHP: the next free integer key.
        let segment = if segment.is_empty() {
            next_index(map).to_string()
        } else {
            (*segment).to_owned()
        };
        if index + 1 == path.len() {
            map.insert(segment, value);
            return;
        }
        node = map
            .entry(segment)
            .or_insert_with(|| Value::Object(Map::new()));
    }
}

fn next_index(map: &Map<String, Value>) -> u64 {
    map.keys()
        .filter_map(|k| k.parse::<u64>().ok())
        .max()
        .map_or(0, |max| max + 1)
}

/// `fields[PHONE][0]` → (`fields`, [`PHONE`, `0`]). A key with unbalanced brackets is taken
/// whole, as PHP does.
fn split_key(key: &str) -> (&str, Vec<&str>) {
    let Some(open) = key.find('[') else {
        return (key, Vec::new());
    };
    let (head, mut rest) = key.split_at(open);
    let mut path = Vec::new();
    while let Some(stripped) = rest.strip_prefix('[') {
        let Some(close) = stripped.find(']') else {
            return (key, Vec::new());
        };
        path.push(&stripped[..close]);
        rest = &stripped[close + 1..];
    }
    if !rest.is_empty() || head.is_empty() {
        return (key, Vec::new());
    }
    (head, path)
}

/// Objects keyed `0..n` become arrays, so a form-encoded list reads like a JSON one.
pub(crate) fn normalize(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let map = normalize_map(map);
            let is_list = !map.is_empty()
                && map
                    .keys()
                    .enumerate()
                    .all(|(i, k)| k.parse::<usize>().ok() == Some(i))
                && map.len() == map.keys().filter(|k| k.parse::<usize>().is_ok()).count();
            if is_list {
                let mut entries: Vec<(usize, Value)> = map
                    .into_iter()
                    .filter_map(|(k, v)| k.parse().ok().map(|i| (i, v)))
                    .collect();
                entries.sort_by_key(|(i, _)| *i);
                Value::Array(entries.into_iter().map(|(_, v)| v).collect())
            } else {
                Value::Object(map)
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        other => other,
    }
}

fn normalize_map(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter().map(|(k, v)| (k, normalize(v))).collect()
}

/// The parameters of one call, with lenient accessors: top-level names are matched exactly
/// first and then without regard to case (old methods mix `fields` and `FIELDS`), and numbers
/// and booleans are read from strings as well.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Params(pub(crate) Map<String, Value>);

impl Params {
    pub(crate) fn new(map: Map<String, Value>) -> Self {
        Self(map)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).or_else(|| {
            self.0
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
    }

    /// The first of several names that is present (for positional `0`, `1` forms too).
    pub(crate) fn get_any(&self, names: &[&str]) -> Option<&Value> {
        names.iter().find_map(|name| self.get(name))
    }

    pub(crate) fn str(&self, name: &str) -> Option<String> {
        self.get(name).and_then(value_str)
    }

    pub(crate) fn u64(&self, name: &str) -> Option<u64> {
        self.get(name).and_then(value_u64)
    }

    pub(crate) fn bool(&self, name: &str) -> Option<bool> {
        self.get(name).and_then(value_bool)
    }

    pub(crate) fn object(&self, name: &str) -> Option<&Map<String, Value>> {
        self.get(name).and_then(Value::as_object)
    }

    /// A required positive id, with the old CRM error when it is missing or malformed.
    pub(crate) fn require_id(&self, name: &str) -> Result<u64, Fail> {
        self.u64(name)
            .filter(|id| *id > 0)
            .ok_or_else(|| Fail::bad_request("", "ID is not defined or invalid."))
    }

    /// A required object parameter such as `fields`.
    pub(crate) fn require_object(&self, name: &str) -> Result<&Map<String, Value>, Fail> {
        self.object(name).ok_or_else(|| {
            Fail::bad_request(
                "",
                format!("Parameter '{}' must be array.", name.to_ascii_lowercase()),
            )
        })
    }
}

/// A value as text: strings as they are, numbers and booleans printed.
pub(crate) fn value_str(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "Y" } else { "N" }.to_owned()),
        _ => None,
    }
}

/// A value as an unsigned integer: numbers or numeric strings.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "only whole, non-negative floats are converted"
)]
pub(crate) fn value_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A value as a signed integer: numbers or numeric strings.
pub(crate) fn value_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `Y`/`N`, `1`/`0`, `true`/`false`, as booleans.
pub(crate) fn value_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        Value::String(s) => match s.trim().to_ascii_uppercase().as_str() {
            "Y" | "1" | "TRUE" | "YES" => Some(true),
            "N" | "0" | "FALSE" | "NO" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn php_brackets_build_the_same_tree_as_json() {
        let tree = parse_query(
            "fields%5BTITLE%5D=My%20company&fields[PHONE][0][VALUE]=112233&fields[PHONE][0][VALUE_TYPE]=WORK\
             &fields[PHONE][1][VALUE]=445566&select[]=ID&select[]=NAME&filter[>ID]=5&id=7",
        );
        assert_eq!(
            Value::Object(tree),
            json!({
                "fields": {
                    "TITLE": "My company",
                    "PHONE": [{ "VALUE": "112233", "VALUE_TYPE": "WORK" }, { "VALUE": "445566" }]
                },
                "select": ["ID", "NAME"],
                "filter": { ">ID": "5" },
                "id": "7"
            })
        );
    }

    #[test]
    fn positional_and_odd_keys() {
        let tree = parse_query("0=123&1[POST_MESSAGE]=hi&a]b=1&[x]=2");
        assert_eq!(tree["0"], "123");
        assert_eq!(tree["1"]["POST_MESSAGE"], "hi");
        assert_eq!(tree["a]b"], "1");
        assert_eq!(tree["[x]"], "2");
    }

    #[test]
    fn lenient_accessors() {
        let params = Params::new(parse_query("ID=5&Flag=Y&start=-1"));
        assert_eq!(params.u64("id"), Some(5));
        assert_eq!(params.bool("flag"), Some(true));
        assert_eq!(params.get("start").and_then(value_i64), Some(-1));
        assert!(params.require_id("missing").is_err());
        assert_eq!(value_u64(&json!(3.0)), Some(3));
        assert_eq!(value_bool(&json!("n")), Some(false));
    }
}
