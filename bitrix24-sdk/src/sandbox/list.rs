//! Rows in tables, and listing them the way the portal does: filter operators, order, pages of
//! 50 with `start`/`next`/`total`, and `start=-1` that skips the count.
//!
//! Rows are kept by id in a `BTreeMap`, so a keyset scan (`order by ID`, `filter >ID`,
//! `start=-1`) reads only the rows it returns, as on a real database with an index, while a
//! counted or offset page has to walk every matching row; the operating-time model charges
//! for exactly that difference.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Bound;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::params::{Params, value_i64, value_str, value_u64};
use super::reply::{Fail, Work};

/// The fixed page size of list methods.
pub(crate) const PAGE: usize = 50;

/// One entity type's rows, by id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Table {
    pub(crate) rows: BTreeMap<u64, Map<String, Value>>,
    pub(crate) last_id: u64,
}

impl Table {
    /// The id the next insert gets.
    pub(crate) fn next_id(&mut self) -> u64 {
        self.last_id += 1;
        self.last_id
    }

    /// Stores `row` under `id` (keeping ids unique for later inserts).
    pub(crate) fn put(&mut self, id: u64, row: Map<String, Value>) {
        self.last_id = self.last_id.max(id);
        self.rows.insert(id, row);
    }

    pub(crate) fn get(&self, id: u64) -> Option<&Map<String, Value>> {
        self.rows.get(&id)
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut Map<String, Value>> {
        self.rows.get_mut(&id)
    }

    pub(crate) fn remove(&mut self, id: u64) -> Option<Map<String, Value>> {
        self.rows.remove(&id)
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }
}

/// A filter operator, from the key prefix (`>=ID`, `%TITLE`, `!@STATUS_ID`…).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    In,
    NotIn,
    /// `%`: substring, case-insensitive.
    Contains,
    /// `!%`: not a substring.
    NotContains,
    /// `=%`, `%=`: an SQL LIKE pattern with `%` wildcards.
    Like,
    /// `!=%`, `!%=`: not LIKE.
    NotLike,
}

/// One condition, or a group (`logic: OR` in `crm.item.list`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    Field { field: String, op: Op, value: Value },
    Group { any: bool, conds: Vec<Cond> },
}

// Longest prefixes first, so `>=` is not read as `>`.
const PREFIXES: [(&str, Op); 15] = [
    ("!=%", Op::NotLike),
    ("!%=", Op::NotLike),
    (">=", Op::Ge),
    ("<=", Op::Le),
    ("!@", Op::NotIn),
    ("=%", Op::Like),
    ("%=", Op::Like),
    ("!%", Op::NotContains),
    ("!=", Op::Ne),
    (">", Op::Gt),
    ("<", Op::Lt),
    ("@", Op::In),
    ("%", Op::Contains),
    ("=", Op::Eq),
    ("!", Op::Ne),
];

/// Reads a `filter` parameter.
pub(crate) fn parse_filter(filter: Option<&Value>) -> Result<Vec<Cond>, Fail> {
    match filter {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) if items.is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
        Some(Value::Object(map)) => parse_group(map),
        Some(_) => Err(Fail::bad_request("", "Parameter 'filter' must be array.")),
    }
}

fn parse_group(map: &Map<String, Value>) -> Result<Vec<Cond>, Fail> {
    let mut conds = Vec::new();
    for (key, value) in map {
        if key.eq_ignore_ascii_case("logic") {
            continue;
        }
        if let Value::Object(inner) = value
            && (key.parse::<u64>().is_ok() || inner.keys().any(|k| k.eq_ignore_ascii_case("logic")))
        {
            let any = inner
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("logic"))
                .and_then(|(_, v)| v.as_str())
                .is_some_and(|logic| logic.eq_ignore_ascii_case("OR"));
            conds.push(Cond::Group {
                any,
                conds: parse_group(inner)?,
            });
            continue;
        }
        let (op, field) = PREFIXES
            .iter()
            .find_map(|(prefix, op)| key.strip_prefix(prefix).map(|field| (*op, field)))
            .unwrap_or((Op::Eq, key.as_str()));
        // An array for a plain key means IN, as in the portal.
        let op = match (op, value) {
            (Op::Eq, Value::Array(_)) => Op::In,
            (Op::Ne, Value::Array(_)) => Op::NotIn,
            (op, _) => op,
        };
        conds.push(Cond::Field {
            field: field.to_owned(),
            op,
            value: value.clone(),
        });
    }
    Ok(conds)
}

/// Reads an `order` parameter into (field, descending) pairs.
pub(crate) fn parse_order(order: Option<&Value>) -> Vec<(String, bool)> {
    let Some(Value::Object(map)) = order else {
        return Vec::new();
    };
    map.iter()
        .map(|(field, dir)| {
            (
                field.clone(),
                value_str(dir).is_some_and(|d| d.eq_ignore_ascii_case("DESC")),
            )
        })
        .collect()
}

/// Reads `start`: absent means 0; `-1` turns the count off.
pub(crate) fn parse_start(params: &Params) -> i64 {
    params.get("start").and_then(value_i64).unwrap_or(0).max(-1)
}

/// A row's field, by exact name first, then without regard to case.
pub(crate) fn field<'a>(row: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    row.get(name).or_else(|| {
        row.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn as_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (as_number(a), as_number(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => Some(
            value_str(a)?
                .to_lowercase()
                .cmp(&value_str(b)?.to_lowercase()),
        ),
    }
}

/// A total order for sorting (a partial one can make `sort_by` panic): empty values first,
/// then numbers, then texts without regard to case.
fn sort_order(a: &Value, b: &Value) -> Ordering {
    fn rank(value: &Value) -> (u8, Option<f64>, String) {
        match value {
            Value::Null => (0, None, String::new()),
            other => match as_number(other) {
                Some(n) => (1, Some(n), String::new()),
                None => (2, None, text(other).to_lowercase()),
            },
        }
    }
    let (ra, na, ta) = rank(a);
    let (rb, nb, tb) = rank(b);
    ra.cmp(&rb).then_with(|| match (na, nb) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => ta.cmp(&tb),
    })
}

fn equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => text(a).is_empty() && text(b).is_empty(),
        _ => compare(a, b) == Some(Ordering::Equal),
    }
}

fn text(value: &Value) -> String {
    value_str(value).unwrap_or_default()
}

/// The scalar values a row's field holds: itself, the items of a list, or the `VALUE`s of a
/// multi-field.
fn scalars(value: Option<&Value>) -> Vec<&Value> {
    match value {
        None => vec![&Value::Null],
        Some(Value::Array(items)) if items.is_empty() => vec![&Value::Null],
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::Object(map) => field(map, "VALUE")
                    .or_else(|| field(map, "value"))
                    .unwrap_or(&Value::Null),
                other => other,
            })
            .collect(),
        Some(other) => vec![other],
    }
}

fn like(pattern: &str, text: &str) -> bool {
    let pattern = pattern.to_lowercase();
    let text = text.to_lowercase();
    let parts: Vec<&str> = pattern.split('%').collect();
    if parts.len() == 1 {
        return text == pattern;
    }
    let mut rest = text.as_str();
    for (index, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if index == 0 {
            let Some(stripped) = rest.strip_prefix(part) else {
                return false;
            };
            rest = stripped;
        } else if index == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else {
                return false;
            };
            rest = &rest[at + part.len()..];
        }
    }
    true
}

fn listed(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::String(s) if s.contains(',') => s
            .split(',')
            .map(|p| Value::String(p.trim().to_owned()))
            .collect(),
        other => vec![other.clone()],
    }
}

/// Whether a row satisfies every condition.
pub(crate) fn matches(row: &Map<String, Value>, conds: &[Cond]) -> bool {
    conds.iter().all(|cond| matches_one(row, cond))
}

fn matches_one(row: &Map<String, Value>, cond: &Cond) -> bool {
    match cond {
        Cond::Group { any: true, conds } => {
            conds.is_empty() || conds.iter().any(|c| matches_one(row, c))
        }
        Cond::Group { any: false, conds } => matches(row, conds),
        Cond::Field {
            field: name,
            op,
            value,
        } => {
            let values = scalars(field(row, name));
            match op {
                Op::Eq => values.iter().any(|v| equals(v, value)),
                Op::Ne => !values.iter().any(|v| equals(v, value)),
                Op::Gt => values
                    .iter()
                    .any(|v| compare(v, value) == Some(Ordering::Greater)),
                Op::Ge => values.iter().any(|v| {
                    matches!(compare(v, value), Some(Ordering::Greater | Ordering::Equal))
                }),
                Op::Lt => values
                    .iter()
                    .any(|v| compare(v, value) == Some(Ordering::Less)),
                Op::Le => values
                    .iter()
                    .any(|v| matches!(compare(v, value), Some(Ordering::Less | Ordering::Equal))),
                Op::In => {
                    let wanted = listed(value);
                    values.iter().any(|v| wanted.iter().any(|w| equals(v, w)))
                }
                Op::NotIn => {
                    let wanted = listed(value);
                    !values.iter().any(|v| wanted.iter().any(|w| equals(v, w)))
                }
                Op::Contains => {
                    let needle = text(value).to_lowercase();
                    values
                        .iter()
                        .any(|v| text(v).to_lowercase().contains(&needle))
                }
                Op::NotContains => {
                    let needle = text(value).to_lowercase();
                    !values
                        .iter()
                        .any(|v| text(v).to_lowercase().contains(&needle))
                }
                Op::Like => values.iter().any(|v| like(&text(value), &text(v))),
                Op::NotLike => !values.iter().any(|v| like(&text(value), &text(v))),
            }
        }
    }
}

/// One page of a list.
#[derive(Debug)]
pub(crate) struct Page<'t> {
    pub(crate) rows: Vec<&'t Map<String, Value>>,
    pub(crate) total: Option<u64>,
    pub(crate) next: Option<u64>,
    pub(crate) work: Work,
}

/// How a table is listed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListShape<'a> {
    /// The id field's name in filters and order (`ID` or `id`).
    pub(crate) id_field: &'a str,
    /// Whether the default order is by id descending (`tasks.task.list`).
    pub(crate) default_desc: bool,
}

/// Lists `table` with `conds`, `order` and `start`.
pub(crate) fn list<'t>(
    table: &'t Table,
    conds: &[Cond],
    order: &[(String, bool)],
    start: i64,
    shape: ListShape<'_>,
) -> Page<'t> {
    let by_id_only = order
        .iter()
        .all(|(f, _)| f.eq_ignore_ascii_case(shape.id_field));
    let desc = order.first().map_or(shape.default_desc, |(_, d)| *d);
    let skip = usize::try_from(start.max(0)).unwrap_or(usize::MAX);
    let counting = start >= 0;

    if by_id_only {
        let (low, high) = id_bounds(conds, shape.id_field);
        let range = table.rows.range((low, high));
        let mut rows = Vec::with_capacity(PAGE);
        let mut matched = 0u64;
        let mut push = |row: &'t Map<String, Value>| {
            if !matches(row, conds) {
                return true;
            }
            let index = usize::try_from(matched).unwrap_or(usize::MAX);
            matched += 1;
            if index >= skip && rows.len() < PAGE {
                rows.push(row);
            }
            // Without a count, stop as soon as the page is full.
            counting || rows.len() < PAGE
        };
        if desc {
            for (_, row) in range.rev() {
                if !push(row) {
                    break;
                }
            }
        } else {
            for (_, row) in range {
                if !push(row) {
                    break;
                }
            }
        }
        return finish(rows, matched, start, counting);
    }

    let mut matching: Vec<&'t Map<String, Value>> = table
        .rows
        .values()
        .filter(|row| matches(row, conds))
        .collect();
    matching.sort_by(|a, b| {
        for (name, desc) in order {
            let ordering = sort_order(
                field(a, name).unwrap_or(&Value::Null),
                field(b, name).unwrap_or(&Value::Null),
            );
            let ordering = if *desc { ordering.reverse() } else { ordering };
            if ordering != Ordering::Equal {
                return ordering;
            }
        }
        Ordering::Equal
    });
    let matched = matching.len() as u64;
    let rows = matching.into_iter().skip(skip).take(PAGE).collect();
    finish(rows, matched, start, counting)
}

fn finish(rows: Vec<&Map<String, Value>>, matched: u64, start: i64, counting: bool) -> Page<'_> {
    let returned = rows.len() as u64;
    if !counting {
        return Page {
            rows,
            total: None,
            next: None,
            work: Work {
                rows_returned: returned,
                rows_counted: 0,
                rows_skipped: 0,
            },
        };
    }
    let start = start.max(0).unsigned_abs();
    let next = (start + returned < matched && returned > 0).then_some(start + PAGE as u64);
    Page {
        rows,
        total: Some(matched),
        next,
        work: Work {
            rows_returned: returned,
            rows_counted: matched,
            rows_skipped: start,
        },
    }
}

/// The id range the top-level conditions allow, to seek in the index.
fn id_bounds(conds: &[Cond], id_field: &str) -> (Bound<u64>, Bound<u64>) {
    let mut low = Bound::Unbounded;
    let mut high = Bound::Unbounded;
    for cond in conds {
        let Cond::Field { field, op, value } = cond else {
            continue;
        };
        if !field.eq_ignore_ascii_case(id_field) {
            continue;
        }
        let Some(n) = value_u64(value) else { continue };
        match op {
            Op::Gt => low = tighter_low(low, Bound::Excluded(n)),
            Op::Ge => low = tighter_low(low, Bound::Included(n)),
            Op::Lt => high = tighter_high(high, Bound::Excluded(n)),
            Op::Le => high = tighter_high(high, Bound::Included(n)),
            Op::Eq => {
                low = tighter_low(low, Bound::Included(n));
                high = tighter_high(high, Bound::Included(n));
            }
            _ => {}
        }
    }
    // An empty range would make BTreeMap::range panic; the conditions still filter.
    if range_is_empty(low, high) {
        (Bound::Unbounded, Bound::Unbounded)
    } else {
        (low, high)
    }
}

fn bound_value(bound: Bound<u64>) -> Option<(u64, bool)> {
    match bound {
        Bound::Included(n) => Some((n, true)),
        Bound::Excluded(n) => Some((n, false)),
        Bound::Unbounded => None,
    }
}

fn tighter_low(a: Bound<u64>, b: Bound<u64>) -> Bound<u64> {
    match (bound_value(a), bound_value(b)) {
        (None, _) => b,
        (_, None) => a,
        (Some((x, _)), Some((y, _))) if x != y => {
            if x > y {
                a
            } else {
                b
            }
        }
        (Some((_, inclusive)), _) => {
            if inclusive {
                b
            } else {
                a
            }
        }
    }
}

fn tighter_high(a: Bound<u64>, b: Bound<u64>) -> Bound<u64> {
    match (bound_value(a), bound_value(b)) {
        (None, _) => b,
        (_, None) => a,
        (Some((x, _)), Some((y, _))) if x != y => {
            if x < y {
                a
            } else {
                b
            }
        }
        (Some((_, inclusive)), _) => {
            if inclusive {
                b
            } else {
                a
            }
        }
    }
}

fn range_is_empty(low: Bound<u64>, high: Bound<u64>) -> bool {
    match (bound_value(low), bound_value(high)) {
        (Some((l, li)), Some((h, hi))) => l > h || (l == h && !(li && hi)),
        _ => false,
    }
}

/// Which fields a `select` asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Select {
    all: bool,
    user_fields: bool,
    names: Vec<String>,
}

impl Select {
    /// Reads `select`; empty or absent means `*`.
    pub(crate) fn parse(select: Option<&Value>) -> Self {
        let names: Vec<String> = match select {
            Some(Value::Array(items)) => items.iter().filter_map(value_str).collect(),
            Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
            _ => Vec::new(),
        };
        let all = names.is_empty() || names.iter().any(|n| n == "*");
        let user_fields = names.iter().any(|n| n.eq_ignore_ascii_case("UF_*"));
        Self {
            all,
            user_fields,
            names,
        }
    }

    /// Whether it names `field` explicitly.
    pub(crate) fn names(&self, field: &str) -> bool {
        self.names.iter().any(|n| n.eq_ignore_ascii_case(field))
    }

    /// Whether `field` is returned. Multi-fields (PHONE, EMAIL…) only when named; user fields
    /// (`UF_*`) only with `UF_*` or by name; others with `*` or by name.
    pub(crate) fn includes(&self, field: &str, multi: bool) -> bool {
        if self.names(field) {
            return true;
        }
        if multi {
            return false;
        }
        if field.starts_with("UF_") {
            return self.user_fields;
        }
        self.all
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn table(n: u64) -> Table {
        let mut table = Table::default();
        for id in 1..=n {
            let row = json!({ "ID": id.to_string(), "TITLE": format!("Lead {id}"), "STATUS_ID": if id % 2 == 0 { "NEW" } else { "JUNK" },
                              "PHONE": [{ "VALUE": format!("+7999{id:07}"), "VALUE_TYPE": "WORK" }] });
            let Value::Object(row) = row else {
                unreachable!()
            };
            table.put(id, row);
        }
        table
    }

    const SHAPE: ListShape<'static> = ListShape {
        id_field: "ID",
        default_desc: false,
    };

    fn ids(page: &Page<'_>) -> Vec<u64> {
        page.rows
            .iter()
            .map(|r| r["ID"].as_str().unwrap().parse().unwrap())
            .collect()
    }

    #[test]
    fn offset_pages_count_and_link() {
        let table = table(120);
        let page = list(&table, &[], &[], 0, SHAPE);
        assert_eq!(
            (page.rows.len(), page.total, page.next),
            (50, Some(120), Some(50))
        );
        let last = list(&table, &[], &[], 100, SHAPE);
        assert_eq!(
            (last.rows.len(), last.total, last.next),
            (20, Some(120), None)
        );
        assert_eq!(
            last.work,
            Work {
                rows_returned: 20,
                rows_counted: 120,
                rows_skipped: 100
            }
        );
    }

    #[test]
    fn keyset_without_count_reads_only_its_page() {
        let table = table(1000);
        let conds = parse_filter(Some(&json!({ ">ID": 990 }))).unwrap();
        let page = list(&table, &conds, &[("ID".into(), false)], -1, SHAPE);
        assert_eq!(ids(&page), (991..=1000).collect::<Vec<_>>());
        assert_eq!((page.total, page.next), (None, None));
        assert_eq!(page.work.rows_counted, 0);
        let desc = list(
            &table,
            &parse_filter(Some(&json!({ "<ID": "11" }))).unwrap(),
            &[("ID".into(), true)],
            -1,
            SHAPE,
        );
        assert_eq!(ids(&desc), (1..=10).rev().collect::<Vec<_>>());
    }

    #[test]
    fn operators() {
        let table = table(20);
        let count = |filter: Value| {
            list(&table, &parse_filter(Some(&filter)).unwrap(), &[], 0, SHAPE)
                .total
                .unwrap()
        };
        assert_eq!(count(json!({ "STATUS_ID": "NEW" })), 10);
        assert_eq!(count(json!({ "!STATUS_ID": "NEW" })), 10);
        assert_eq!(count(json!({ "@ID": [1, 2, 3] })), 3);
        assert_eq!(count(json!({ "!@ID": [1, 2, 3] })), 17);
        assert_eq!(count(json!({ ">=ID": 5, "<=ID": 6 })), 2);
        assert_eq!(count(json!({ "%TITLE": "ead 1" })), 11);
        assert_eq!(count(json!({ "=%TITLE": "Lead 1%" })), 11);
        assert_eq!(count(json!({ "!%TITLE": "Lead 1" })), 9);
        assert_eq!(count(json!({ "PHONE": "+79990000007" })), 1);
        assert_eq!(
            count(json!({ "0": { "logic": "OR", "ID": 1, "=ID": 2 } })),
            2
        );
        assert_eq!(count(json!({ ">ID": 10, "<ID": 5 })), 0);
        assert!(parse_filter(Some(&json!("x"))).is_err());
    }

    #[test]
    fn order_by_other_fields() {
        let table = table(5);
        let page = list(
            &table,
            &[],
            &[("STATUS_ID".into(), false), ("ID".into(), true)],
            0,
            SHAPE,
        );
        assert_eq!(ids(&page), vec![5, 3, 1, 4, 2]);
    }

    #[test]
    fn select_rules() {
        let star = Select::parse(Some(&json!(["*"])));
        assert!(
            star.includes("TITLE", false)
                && !star.includes("PHONE", true)
                && !star.includes("UF_CRM_1", false)
        );
        let named = Select::parse(Some(&json!(["ID", "PHONE", "UF_*"])));
        assert!(
            named.includes("PHONE", true)
                && named.includes("UF_CRM_1", false)
                && !named.includes("TITLE", false)
        );
    }
}
