//! A parser for `application/x-www-form-urlencoded` bodies with PHP-style keys.
//!
//! Bitrix24 is written in PHP and posts events the way PHP's `http_build_query` writes them:
//! `data[FIELDS][ID]=7&auth[member_id]=…`. This module rebuilds the tree PHP's `parse_str`
//! would see, so the rest of the SDK can read an event as JSON. See [`parse_form`].

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// How deep brackets may nest: `a[b][c]` is depth 2.
pub const MAX_DEPTH: usize = 32;

/// How many `name=value` pairs a body may hold.
pub const MAX_FIELDS: usize = 10_000;

/// Parses a form body with PHP-style keys into the tree PHP would build.
///
/// - Pairs are separated by `&`; empty pairs are skipped; a pair without `=` has the value `""`.
/// - Names and values are percent-decoded (`+` is a space; a malformed `%` escape is kept as
///   it is) before the brackets are read, so `data%5BID%5D` means `data[ID]`. Bytes that are
///   not UTF-8 after decoding become U+FFFD.
/// - `a[b][c]=v` nests; the text inside one pair of brackets is taken up to the first `]`, so
///   `a[b[c]=v` has the key `b[c`. Text after a `]` that does not open another `[` is ignored,
///   and so is a final `[` without its `]` (`a[b]c=v` and `a[b][c=v` both set `a[b]`), as in PHP.
/// - Leading spaces of a name are ignored, as in PHP.
/// - `a[]=v` (or `a[ ]=v`) appends with the next integer key (one more than the largest integer key so far,
///   or 0). Keys that are canonical decimal integers (`0`, `7`, `-3`, but not `07`) are integer
///   keys, as in PHP.
/// - A later pair wins over an earlier one with the same name and keeps its position; a scalar
///   is replaced by a map when a later name nests under it, and the other way round.
/// - A map whose keys are exactly `0, 1, …, n-1` in that order becomes a JSON array; any other
///   map becomes a JSON object (integer keys written in decimal). The top level is always an
///   object. Every leaf is a string.
///
/// Where this differs from PHP, on purpose:
/// - Names are not mangled: PHP turns `.` and spaces in the first part of a name into `_` and
///   turns an unbalanced first `[` into `_`; here `a.b` stays `a.b` and `a[b` stays `a[b`.
/// - Over the limits PHP silently drops input; this parser fails instead, so that nothing is lost
///   without a word: more than [`MAX_FIELDS`] pairs or a name nested deeper than [`MAX_DEPTH`] is
///   an error. The body size is not limited here: check it before reading the body (the axum
///   extractor caps it at 1 MiB).
/// - A pair whose name is empty before the first `[` (`=v`, `[a]=v`) is skipped, as PHP does.
///
/// Never panics, whatever the input (the parser is fuzzed).
///
/// # Errors
/// [`ErrorKind::Decode`](crate::ErrorKind::Decode) when a limit is exceeded. The message says
/// which limit, never the input itself.
///
/// # Example
/// ```
/// let tree = bitrix24::events::parse_form(
///     b"event=ONCRMLEADADD&data%5BFIELDS%5D%5BID%5D=7&tags[]=a&tags[]=b",
/// )
/// .unwrap();
/// assert_eq!(
///     tree,
///     serde_json::json!({
///         "event": "ONCRMLEADADD",
///         "data": { "FIELDS": { "ID": "7" } },
///         "tags": ["a", "b"],
///     })
/// );
/// ```
pub fn parse_form(body: &[u8]) -> Result<Value> {
    let mut root = PhpArray::default();
    let mut fields = 0usize;
    for pair in body.split(|&byte| byte == b'&') {
        if pair.is_empty() {
            continue;
        }
        fields += 1;
        if fields > MAX_FIELDS {
            return Err(Error::decode(
                format!("form body has more than {MAX_FIELDS} fields"),
                None,
            ));
        }
        let (raw_name, raw_value) = match pair.iter().position(|&byte| byte == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        let name = percent_decode(raw_name);
        let value = percent_decode(raw_value);
        let Some(path) = split_name(&name)? else {
            continue;
        };
        root.set_path(&path, value, fields)?;
    }
    Ok(root.into_object())
}

/// One step of a name: `[key]` or `[]`.
#[derive(Debug)]
enum Step {
    Key(String),
    Append,
}

/// Splits a decoded name into its base and bracket steps, or `None` when the pair is skipped.
fn split_name(name: &str) -> Result<Option<(String, Vec<Step>)>> {
    // PHP ignores leading spaces in a name (`+event=…` is `event`).
    let name = name.trim_start_matches(' ');
    let Some(open) = name.find('[') else {
        return Ok((!name.is_empty()).then(|| (name.to_owned(), Vec::new())));
    };
    let base = &name[..open];
    if base.is_empty() {
        return Ok(None);
    }
    // The first `[` has no `]` anywhere after it: the whole name is one plain key.
    if !name[open..].contains(']') {
        return Ok(Some((name.to_owned(), Vec::new())));
    }
    let mut steps = Vec::new();
    let mut rest = &name[open..];
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            // An unbalanced `[` after complete steps is dropped, as PHP drops it.
            break;
        };
        if steps.len() == MAX_DEPTH {
            return Err(Error::decode(
                format!("a form field name nests deeper than {MAX_DEPTH} levels"),
                None,
            ));
        }
        let key = &inner[..close];
        // `[]`, and `[ ]` as PHP reads it, append.
        steps.push(if key.is_empty() || key == " " {
            Step::Append
        } else {
            Step::Key(key.to_owned())
        });
        rest = &inner[close + 1..];
    }
    Ok(Some((base.to_owned(), steps)))
}

/// A PHP array key: integer or string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Int(i64),
    Str(String),
}

impl Key {
    /// PHP's rule: a canonical decimal integer that fits in 64 bits is an integer key.
    fn from_text(text: &str) -> Self {
        let digits = text.strip_prefix('-').unwrap_or(text);
        let canonical = !digits.is_empty()
            && digits.bytes().all(|byte| byte.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'))
            && text != "-0";
        if canonical && let Ok(number) = text.parse::<i64>() {
            return Self::Int(number);
        }
        Self::Str(text.to_owned())
    }

    fn into_string(self) -> String {
        match self {
            Self::Int(number) => number.to_string(),
            Self::Str(text) => text,
        }
    }
}

#[derive(Debug)]
enum Node {
    Leaf(String),
    Array(PhpArray),
}

/// An ordered PHP array: insertion order, overwrite in place, and `[]` appends.
#[derive(Debug, Default)]
struct PhpArray {
    entries: Vec<(Key, Node)>,
    positions: HashMap<Key, usize>,
    /// The key `[]` appends with; `None` until an integer key is inserted.
    next_free: Option<i64>,
    /// Set once an integer key reached `i64::MAX`: PHP refuses further appends.
    full: bool,
}

impl PhpArray {
    fn set_path(&mut self, path: &(String, Vec<Step>), value: String, field: usize) -> Result<()> {
        let (base, steps) = path;
        let mut current = self;
        let mut key = Key::from_text(base);
        for step in steps {
            let slot = current.slot(key);
            if !matches!(slot, Node::Array(_)) {
                *slot = Node::Array(PhpArray::default());
            }
            let Node::Array(array) = slot else {
                return Err(Error::decode(
                    format!("form field {field} could not be placed"),
                    None,
                ));
            };
            current = array;
            key = match step {
                Step::Key(text) => Key::from_text(text),
                Step::Append => match current.append_key() {
                    Some(next) => next,
                    // PHP drops the value when no integer key is left.
                    None => return Ok(()),
                },
            };
        }
        *current.slot(key) = Node::Leaf(value);
        Ok(())
    }

    /// The key `[]` would use next, or `None` when the integer keys are exhausted.
    fn append_key(&self) -> Option<Key> {
        if self.full {
            return None;
        }
        Some(Key::Int(self.next_free.unwrap_or(0)))
    }

    /// The node stored under `key`, created as an empty leaf when missing.
    fn slot(&mut self, key: Key) -> &mut Node {
        if let Key::Int(number) = key {
            match number.checked_add(1) {
                Some(next) => {
                    if self.next_free.is_none_or(|free| next > free) {
                        self.next_free = Some(next);
                    }
                }
                None => self.full = true,
            }
        }
        let index = if let Some(&index) = self.positions.get(&key) {
            index
        } else {
            let index = self.entries.len();
            self.positions.insert(key.clone(), index);
            self.entries.push((key, Node::Leaf(String::new())));
            index
        };
        &mut self.entries[index].1
    }

    fn is_list(&self) -> bool {
        self.entries
            .iter()
            .enumerate()
            .all(|(index, (key, _))| matches!(key, Key::Int(n) if usize::try_from(*n) == Ok(index)))
    }

    fn into_value(self) -> Value {
        if self.is_list() {
            Value::Array(
                self.entries
                    .into_iter()
                    .map(|(_, node)| node.into_value())
                    .collect(),
            )
        } else {
            self.into_object()
        }
    }

    fn into_object(self) -> Value {
        let mut map = Map::with_capacity(self.entries.len());
        for (key, node) in self.entries {
            map.insert(key.into_string(), node.into_value());
        }
        Value::Object(map)
    }
}

impl Node {
    fn into_value(self) -> Value {
        match self {
            Self::Leaf(text) => Value::String(text),
            Self::Array(array) => array.into_value(),
        }
    }
}

/// `urldecode`: `+` is a space, `%XX` is a byte, anything else (a bad escape too) stays.
fn percent_decode(input: &[u8]) -> String {
    let mut out = Vec::with_capacity(input.len());
    let mut index = 0;
    while index < input.len() {
        match input[index] {
            b'+' => {
                out.push(b' ');
                index += 1;
            }
            b'%' => {
                let high = input.get(index + 1).and_then(|&b| hex(b));
                let low = input.get(index + 2).and_then(|&b| hex(b));
                if let (Some(high), Some(low)) = (high, low) {
                    out.push(high << 4 | low);
                    index += 3;
                } else {
                    out.push(b'%');
                    index += 1;
                }
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    match String::from_utf8(out) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }
}

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Writes `value` as a form body with PHP-style keys, the way Bitrix24 (PHP's
/// `http_build_query`) sends it: objects as `a[b]`, arrays as `a[0]`, `null` as an empty
/// value, numbers and booleans as text (`true` as `1`, `false` as `0`). Empty arrays and
/// objects send nothing, as in PHP.
///
/// The inverse of [`parse_form`] for trees of strings; useful to replay a stored event or to
/// test a handler.
pub fn to_form(value: &Value) -> String {
    let mut pairs = Vec::new();
    flatten("", value, &mut pairs);
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in &pairs {
        out.append_pair(name, value);
    }
    out.finish()
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    let name = |key: &str| {
        if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}[{key}]")
        }
    };
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                flatten(&name(key), inner, out);
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                flatten(&name(&index.to_string()), inner, out);
            }
        }
        Value::Null => out.push((prefix.to_owned(), String::new())),
        Value::Bool(flag) => out.push((prefix.to_owned(), u8::from(*flag).to_string())),
        Value::String(text) => out.push((prefix.to_owned(), text.clone())),
        Value::Number(number) => out.push((prefix.to_owned(), number.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(body: &str) -> Value {
        parse_form(body.as_bytes()).unwrap()
    }

    #[test]
    fn nests_and_decodes() {
        assert_eq!(
            parse("event=ONCRMDEALADD&data%5BFIELDS%5D%5BID%5D=7405&auth[domain]=a.b+c%2Fd"),
            json!({ "event": "ONCRMDEALADD", "data": { "FIELDS": { "ID": "7405" } }, "auth": { "domain": "a.b c/d" } })
        );
    }

    #[test]
    fn numeric_keys_in_order_are_lists() {
        assert_eq!(
            parse("a[0]=x&a[1]=y&b[1]=x&b[0]=y&c[0]=x&c[2]=y&d[00]=x"),
            json!({ "a": ["x", "y"], "b": { "1": "x", "0": "y" }, "c": { "0": "x", "2": "y" }, "d": { "00": "x" } })
        );
    }

    #[test]
    fn appends_like_php() {
        assert_eq!(parse("a[]=x&a[]=y"), json!({ "a": ["x", "y"] }));
        assert_eq!(
            parse("a[5]=x&a[]=y&a[k]=z&a[]=w"),
            json!({ "a": { "5": "x", "6": "y", "k": "z", "7": "w" } })
        );
        assert_eq!(
            parse("a[][x]=1&a[][x]=2"),
            json!({ "a": [{ "x": "1" }, { "x": "2" }] })
        );
        assert_eq!(
            parse("a[-3]=x&a[]=y"),
            json!({ "a": { "-3": "x", "-2": "y" } })
        );
        let max = i64::MAX;
        assert_eq!(
            parse(&format!("a[{max}]=x&a[]=y")),
            json!({ "a": { max.to_string(): "x" } })
        );
    }

    #[test]
    fn later_pairs_win_in_place() {
        assert_eq!(parse("a=1&b=2&a=3"), json!({ "a": "3", "b": "2" }));
        assert_eq!(parse("a=1&a[b]=2"), json!({ "a": { "b": "2" } }));
        assert_eq!(parse("a[b]=2&a=1"), json!({ "a": "1" }));
    }

    #[test]
    fn odd_names() {
        assert_eq!(parse("a[b=1"), json!({ "a[b": "1" }));
        assert_eq!(parse("a]b=1"), json!({ "a]b": "1" }));
        assert_eq!(parse("a[b]c=1"), json!({ "a": { "b": "1" } }));
        assert_eq!(parse("a[b][c=1"), json!({ "a": { "b": "1" } }));
        assert_eq!(parse("a[b[c]=1"), json!({ "a": { "b[c": "1" } }));
        assert_eq!(parse("=1&[x]=2&&flag"), json!({ "flag": "" }));
        assert_eq!(parse("a.b c=1"), json!({ "a.b c": "1" }));
        assert_eq!(parse("v=%zz%4"), json!({ "v": "%zz%4" }));
        assert_eq!(parse("v=%FF"), json!({ "v": "\u{FFFD}" }));
        assert_eq!(parse("0=a&1=b"), json!({ "0": "a", "1": "b" }));
        assert_eq!(parse("+a=1&%20b[+]=2"), json!({ "a": "1", "b": ["2"] }));
        assert_eq!(parse("+=1"), json!({}));
    }

    #[test]
    fn limits_are_errors() {
        let deep = format!("a{}=1", "[x]".repeat(MAX_DEPTH));
        assert!(parse_form(deep.as_bytes()).is_ok());
        let deeper = format!("a{}=1", "[x]".repeat(MAX_DEPTH + 1));
        let error = parse_form(deeper.as_bytes()).unwrap_err();
        assert!(error.is_decode());
        assert!(error.to_string().contains("deeper than 32"), "{error}");
        let many = vec!["k=v"; MAX_FIELDS].join("&");
        assert!(parse_form(many.as_bytes()).is_ok());
        let too_many = vec!["k=v"; MAX_FIELDS + 1].join("&");
        let error = parse_form(too_many.as_bytes()).unwrap_err();
        assert!(
            error.to_string().contains("more than 10000 fields"),
            "{error}"
        );
    }

    #[test]
    fn to_form_round_trips() {
        let tree = json!({ "event": "X", "data": { "A": ["1", { "b": "c&d=e" }], "E": [] }, "ts": 5, "n": null });
        let body = to_form(&tree);
        assert_eq!(
            parse(&body),
            json!({ "event": "X", "data": { "A": ["1", { "b": "c&d=e" }] }, "ts": "5", "n": "" })
        );
    }
}
