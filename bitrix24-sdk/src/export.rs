//! Reading a whole table as fast as the portal allows.
//!
//! The ceiling is set by the request bucket: 2 requests a second on standard plans. One
//! `batch` is one request and carries 50 list calls of 50 rows, so an export can reach 2,500
//! rows per request if the 50 calls can be chained without a round trip between them. They
//! can: call *i* filters `>ID` on `$result[c{i-1}][49][ID]`, the id of the last row of the
//! call before it, which the portal resolves while running the batch. Every call orders by id
//! and sends `start=-1`, so the portal counts nothing and the operating-time budget is spent
//! only on the rows returned.
//!
//! The id range is split into shards exported concurrently, each a chain of such batches; the
//! limiter spaces them out. A shard ends at its first short page. If a page is short inside a
//! batch, the calls chained after it referred to a row that does not exist and their results
//! are meaningless: they are discarded. Rows are delivered at most once per shard (ids only
//! grow within one) and shards do not overlap, so no row is delivered twice, and every row
//! present when the export started and untouched while it ran is delivered.
//!
//! [`ExportCheckpoint`] records where every shard stands after each delivered page; give it
//! back with [`Export::resume`] to carry on after an interruption.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use futures::stream::{self, Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::batch::MAX_COMMANDS;
use crate::error::{ApiError, Error, Result};
use crate::list::page::Rows;
use crate::list::{PAGE_SIZE, RawList, keyset_params};

/// Where an export stands: enough to resume it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportCheckpoint {
    method: String,
    fingerprint: u64,
    shards: Vec<ShardCursor>,
}

impl ExportCheckpoint {
    /// Whether every shard is finished.
    pub fn is_complete(&self) -> bool {
        self.shards.iter().all(|shard| shard.done)
    }
}

/// One shard: ids in `low..=high`, delivered up to and including `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct ShardCursor {
    low: u64,
    high: u64,
    after: Option<u64>,
    done: bool,
}

/// Rows of one batch of one shard, and the checkpoint that holds once they are consumed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ExportPage<T> {
    /// The rows, in id order within their shard.
    pub rows: Vec<T>,
    /// Where the export stands after these rows.
    pub checkpoint: ExportCheckpoint,
}

/// An export being configured; see the [module docs](self).
#[must_use = "an export does nothing until streamed"]
pub struct Export<T> {
    list: RawList<T>,
    shards: usize,
    resume: Option<ExportCheckpoint>,
}

impl<T> fmt::Debug for Export<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Export")
            .field("list", &self.list)
            .field("shards", &self.shards)
            .finish_non_exhaustive()
    }
}

/// A `batch` reply whose results are pages of rows, decoded straight into `T`.
#[derive(Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
struct ChainReply<T> {
    #[serde(default = "BTreeMap::new", deserialize_with = "rows_or_empty")]
    result: BTreeMap<String, Rows<T>>,
    #[serde(default)]
    result_error: Value,
}

/// The `result` map of commands, or `[]` (PHP's empty map) when none succeeded.
fn rows_or_empty<'de, D, T>(
    deserializer: D,
) -> std::result::Result<BTreeMap<String, Rows<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    struct Visit<T>(std::marker::PhantomData<fn() -> T>);

    impl<'de, T: DeserializeOwned> serde::de::Visitor<'de> for Visit<T> {
        type Value = BTreeMap<String, Rows<T>>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("the results of a batch")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((key, rows)) = map.next_entry::<String, Rows<T>>()? {
                out.insert(key, rows);
            }
            Ok(out)
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(BTreeMap::new())
        }
    }

    deserializer.deserialize_any(Visit(std::marker::PhantomData))
}

/// A 64-bit FNV-1a digest, to tell whether a checkpoint belongs to the same query.
fn fingerprint(name: &str, params: &Map<String, Value>) -> u64 {
    let text = format!("{name}?{}", Value::Object(params.clone()));
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl<T: DeserializeOwned + Send + 'static> Export<T> {
    pub(crate) fn new(list: RawList<T>) -> Self {
        Self {
            list,
            shards: 4,
            resume: None,
        }
    }

    /// How many id ranges are exported concurrently (default 4). More shards do not raise
    /// the portal's rate ceiling; they hide latency.
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = shards.clamp(1, 64);
        self
    }

    /// Carries on from a checkpoint of an earlier export of the same query.
    pub fn resume(mut self, checkpoint: ExportCheckpoint) -> Self {
        self.resume = Some(checkpoint);
        self
    }

    /// Every row, as a stream.
    pub fn stream(self) -> impl Stream<Item = Result<T>> + Send + 'static {
        self.pages().flat_map(|page| match page {
            Ok(page) => stream::iter(page.rows.into_iter().map(Ok).collect::<Vec<_>>()),
            Err(error) => stream::iter(vec![Err(error)]),
        })
    }

    /// Rows a batch at a time, each with the checkpoint that holds once they are consumed.
    pub fn pages(self) -> impl Stream<Item = Result<ExportPage<T>>> + Send + 'static {
        let Self {
            list,
            shards,
            resume,
        } = self;
        stream::once(async move {
            plan(&list, shards, resume)
                .await
                .map(|cursors| run(&list, cursors))
        })
        .flat_map(|planned| match planned {
            Ok(pages) => pages.boxed(),
            Err(error) => stream::iter(vec![Err(error)]).boxed(),
        })
    }
}

/// Where each shard starts: from the checkpoint, or from the id range the portal reports.
async fn plan<T: DeserializeOwned + Send + 'static>(
    list: &RawList<T>,
    shards: usize,
    resume: Option<ExportCheckpoint>,
) -> Result<Vec<ShardCursor>> {
    list.check()?;
    let id_field = list.require_id_field()?.to_owned();
    let print = fingerprint(list.name(), list.params());
    if let Some(checkpoint) = resume {
        if checkpoint.method != list.name() || checkpoint.fingerprint != print {
            return Err(Error::invalid_input(
                "the checkpoint belongs to a different export (method or parameters differ)",
            ));
        }
        return Ok(checkpoint.shards);
    }
    // The first and the last row in id order, in one request, without counting.
    let mut batch = list.client().batch();
    let lowest = batch.add_raw::<Value>(
        list.name(),
        Value::Object(keyset_params(list.params(), &id_field, None, false)),
        true,
    );
    let highest = batch.add_raw::<Value>(
        list.name(),
        Value::Object(keyset_params(list.params(), &id_field, None, true)),
        true,
    );
    let mut reply = batch.send().await?;
    let edge = |page: Value| -> Option<u64> {
        let rows = match page {
            Value::Array(rows) => rows,
            Value::Object(mut map) => match list.items_key_str().and_then(|key| map.remove(key)) {
                Some(Value::Array(rows)) => rows,
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        rows.first()
            .and_then(|row| crate::list::value_id(row, &id_field))
    };
    let (Some(low), Some(high)) = (edge(reply.take(&lowest)?), edge(reply.take(&highest)?)) else {
        return Ok(Vec::new());
    };
    let (low, high) = (low.min(high), low.max(high));
    let count = u64::try_from(shards).unwrap_or(1).clamp(1, high - low + 1);
    let width = (high - low + 1).div_ceil(count);
    Ok((0..count)
        .map(|i| {
            let start = low + i * width;
            ShardCursor {
                low: start,
                high: (start + width - 1).min(high),
                after: None,
                done: false,
            }
        })
        .filter(|shard| shard.low <= shard.high)
        .collect())
}

/// Runs every unfinished shard concurrently and merges their pages.
fn run<T: DeserializeOwned + Send + 'static>(
    list: &RawList<T>,
    cursors: Vec<ShardCursor>,
) -> impl Stream<Item = Result<ExportPage<T>>> + Send + 'static + use<T> {
    let shared = Arc::new(Mutex::new(ExportCheckpoint {
        method: list.name().to_owned(),
        fingerprint: fingerprint(list.name(), list.params()),
        shards: cursors.clone(),
    }));
    let streams: Vec<_> = cursors
        .into_iter()
        .enumerate()
        .filter(|(_, cursor)| !cursor.done)
        .map(|(index, cursor)| shard_stream(list.clone(), index, cursor, shared.clone()).boxed())
        .collect();
    stream::select_all(streams)
}

/// The parameters of the first call of a batch (a literal cursor) or a chained one.
fn shard_params(
    base: &Map<String, Value>,
    id_field: &str,
    cursor: &ShardCursor,
    after: Option<Value>,
) -> Map<String, Value> {
    let mut params = base.clone();
    let mut filter = match params.remove("filter").or_else(|| params.remove("FILTER")) {
        Some(Value::Object(filter)) => filter,
        _ => Map::new(),
    };
    // The shard's range, tightened by any bound of the caller's own.
    let upper = format!("<={id_field}");
    let own_upper = filter.get(&upper).and_then(number).unwrap_or(u64::MAX);
    filter.insert(upper, json!(cursor.high.min(own_upper)));
    let lower = format!(">={id_field}");
    let own_lower = filter.get(&lower).and_then(number).unwrap_or(0);
    filter.insert(lower, json!(cursor.low.max(own_lower)));
    params.insert("filter".into(), Value::Object(filter));
    keyset_params(&params, id_field, after, false)
}

fn shard_stream<T: DeserializeOwned + Send + 'static>(
    list: RawList<T>,
    index: usize,
    cursor: ShardCursor,
    shared: Arc<Mutex<ExportCheckpoint>>,
) -> impl Stream<Item = Result<ExportPage<T>>> + Send + 'static {
    stream::try_unfold(cursor, move |mut cursor| {
        let list = list.clone();
        let shared = shared.clone();
        async move {
            if cursor.done {
                return Ok(None);
            }
            let id_field = list.require_id_field()?.to_owned();
            let path = list
                .items_key_str()
                .map(|key| format!("[{key}]"))
                .unwrap_or_default();
            let mut cmd = Map::new();
            for i in 0..MAX_COMMANDS {
                let after = if i == 0 {
                    cursor.after.map(Value::from)
                } else {
                    Some(Value::String(format!(
                        "$result[c{}]{path}[{}][{id_field}]",
                        i - 1,
                        PAGE_SIZE - 1
                    )))
                };
                let params = shard_params(list.params(), &id_field, &cursor, after);
                let query = crate::batch::encode_query(&params);
                cmd.insert(
                    format!("c{i}"),
                    Value::String(format!("{}?{query}", list.name())),
                );
            }
            let reply: ChainReply<T> = list
                .client()
                .call_raw("batch", json!({ "halt": 0, "cmd": cmd }))
                .idempotent(true)
                .await?;
            let (rows, next) = take_chain(&list, reply, &cursor)?;
            cursor = next;
            let checkpoint = {
                let mut checkpoint = shared.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(entry) = checkpoint.shards.get_mut(index) {
                    *entry = cursor;
                }
                checkpoint.clone()
            };
            Ok(Some((ExportPage { rows, checkpoint }, cursor)))
        }
    })
}

/// The rows of a chain in order, up to its first short page; and the shard's new cursor.
fn take_chain<T: DeserializeOwned + Send + 'static>(
    list: &RawList<T>,
    mut reply: ChainReply<T>,
    cursor: &ShardCursor,
) -> Result<(Vec<T>, ShardCursor)> {
    let mut next = *cursor;
    let mut rows = Vec::new();
    for i in 0..MAX_COMMANDS {
        let key = format!("c{i}");
        if let Some(error) = reply.result_error.get(&key) {
            let code = error
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let description = error
                .get("error_description")
                .and_then(Value::as_str)
                .unwrap_or_default();
            return Err(
                Error::from_api(ApiError::new(code, description, 200)).with_method(list.name())
            );
        }
        let Some(page) = reply.result.remove(&key) else {
            return Err(
                Error::decode("the batch reply lacks a command of the chain", None)
                    .with_method(list.name()),
            );
        };
        let page = page.into_vec(list.items_key_str());
        let full = page.len() == PAGE_SIZE;
        for row in page {
            let Some(id) = list.item_id(&row) else {
                return Err(Error::decode(
                    "a row without an id: it cannot be exported by id",
                    None,
                )
                .with_method(list.name()));
            };
            // Ids only grow within a shard; anything else is not ours to deliver.
            if id < cursor.low || id > cursor.high || next.after.is_some_and(|after| id <= after) {
                continue;
            }
            next.after = Some(id);
            rows.push(row);
        }
        if !full {
            next.done = true;
            break;
        }
    }
    if next.after.is_some_and(|after| after >= next.high) {
        next.done = true;
    }
    Ok((rows, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_params_keep_the_callers_bounds() {
        let Value::Object(base) = json!({ "filter": { "STATUS_ID": "NEW", "<=ID": 500 } }) else {
            unreachable!()
        };
        let cursor = ShardCursor {
            low: 100,
            high: 900,
            after: None,
            done: false,
        };
        let first = shard_params(&base, "ID", &cursor, None);
        assert_eq!(
            first["filter"],
            json!({ "STATUS_ID": "NEW", "<=ID": 500, ">=ID": 100 })
        );
        assert_eq!(first["order"], json!({ "ID": "ASC" }));
        let chained = shard_params(&base, "ID", &cursor, Some(json!("$result[c0][49][ID]")));
        assert_eq!(
            chained["filter"],
            json!({ "STATUS_ID": "NEW", "<=ID": 500, ">ID": "$result[c0][49][ID]" })
        );
    }

    #[test]
    fn fingerprints_tell_queries_apart() {
        let Value::Object(a) = json!({ "filter": { "A": 1 } }) else {
            unreachable!()
        };
        let Value::Object(b) = json!({ "filter": { "A": 2 } }) else {
            unreachable!()
        };
        assert_ne!(
            fingerprint("crm.lead.list", &a),
            fingerprint("crm.lead.list", &b)
        );
        assert_eq!(
            fingerprint("crm.lead.list", &a),
            fingerprint("crm.lead.list", &a)
        );
    }
}
