//! Listing: offset pages (`start`/`next`), keyset streams (`>ID`, `start=-1`), and the fast
//! export built on them.
//!
//! List methods return at most 50 rows a call. Offset paging (`start` = the previous `next`)
//! makes the portal count every matching row and skip `start` of them on each call, which gets
//! slow and burns the method's operating-time budget on big tables. Keyset paging orders by id,
//! filters `>ID` past the last id seen and sends `start=-1` so nothing is counted; it stops at
//! the first short page. The docs recommend it for large reads.

pub(crate) mod page;

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use futures::stream::{self, Stream};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub use page::Page;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::method::{Call, Method, params_object};
use crate::retry::RetryPolicy;

/// The portal's fixed page size.
pub const PAGE_SIZE: usize = 50;

/// A list method: where its rows are and how to list it by id.
///
/// ```
/// #[derive(Clone, serde::Serialize)]
/// struct ListLeads { select: Vec<String>, filter: serde_json::Map<String, serde_json::Value> }
///
/// #[derive(serde::Deserialize)]
/// struct Lead { #[serde(rename = "ID")] id: String }
///
/// impl bitrix24::Method for ListLeads {
///     const NAME: &'static str = "crm.lead.list";
///     const IDEMPOTENT: bool = true;
///     type Output = Vec<Lead>;
/// }
///
/// impl bitrix24::ListMethod for ListLeads {
///     type Item = Lead;
///     fn item_id(item: &Lead) -> Option<u64> { item.id.parse().ok() }
/// }
/// ```
pub trait ListMethod: Method {
    /// The type of one row.
    type Item: DeserializeOwned + Send + 'static;
    /// Where the rows are in `result`: `None` for a plain list (`crm.lead.list`),
    /// `Some("items")` for `crm.item.list`, `Some("tasks")` for `tasks.task.list`.
    const ITEMS_KEY: Option<&'static str> = None;
    /// The id field in `filter` and `order` (`ID`, or `id` for `crm.item.list`), or `None`
    /// when the method cannot be listed by id.
    const ID_FIELD: Option<&'static str> = Some("ID");
    /// The id of a row, for keyset listing.
    fn item_id(item: &Self::Item) -> Option<u64>;
}

/// A row that knows its own id, for keyset listing.
///
/// The generated list requests (`bitrix24::methods`) implement
/// [`ListMethod::item_id`] with it, so any row model works as their `Item` once it implements
/// this trait.
pub trait Identified {
    /// The row's id; `None` when the row has none or it is not a non-negative integer.
    fn row_id(&self) -> Option<u64>;
}

/// Untyped rows: the `ID` field, else `id`, as a number or a numeric string.
impl Identified for Value {
    fn row_id(&self) -> Option<u64> {
        value_id(self, "ID").or_else(|| value_id(self, "id"))
    }
}

/// Reads an `ID`/`id` field that may be a number or a numeric string.
pub fn value_id(row: &Value, field: &str) -> Option<u64> {
    let value = row
        .get(field)
        .or_else(|| row.get(field.to_ascii_lowercase()))?;
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A list call by name, decoding rows into `T`: the engine behind every stream.
#[must_use = "a list does nothing until streamed"]
pub struct RawList<T> {
    client: Client,
    name: Cow<'static, str>,
    params: Map<String, Value>,
    items_key: Option<Cow<'static, str>>,
    id_field: Option<Cow<'static, str>>,
    item_id: fn(&T) -> Option<u64>,
    retry_policy: Option<RetryPolicy>,
    invalid: Option<String>,
    item: PhantomData<fn() -> T>,
}

impl<T> Clone for RawList<T> {
    fn clone(&self) -> Self {
        Self {
            client: self.client.clone(),
            name: self.name.clone(),
            params: self.params.clone(),
            items_key: self.items_key.clone(),
            id_field: self.id_field.clone(),
            item_id: self.item_id,
            retry_policy: self.retry_policy.clone(),
            invalid: self.invalid.clone(),
            item: PhantomData,
        }
    }
}

impl<T> fmt::Debug for RawList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawList")
            .field("method", &self.name)
            .field("items_key", &self.items_key)
            .field("id_field", &self.id_field)
            .finish_non_exhaustive()
    }
}

fn row_id(row: &Value) -> Option<u64> {
    value_id(row, "ID")
}

impl RawList<Value> {
    pub(crate) fn new(client: Client, name: &str, params: impl Serialize) -> Self {
        let (params, invalid) = match params_object(&params) {
            Ok(params) => (params, None),
            Err(error) => (Map::new(), Some(error.to_string())),
        };
        Self {
            client,
            name: Cow::Owned(name.to_owned()),
            params,
            items_key: None,
            id_field: Some(Cow::Borrowed("ID")),
            item_id: row_id,
            retry_policy: None,
            invalid,
            item: PhantomData,
        }
    }

    /// Where the rows are in `result` (`items` for `crm.item.list`, `tasks` for
    /// `tasks.task.list`); by default `result` is the list itself.
    pub fn items_key(mut self, key: &str) -> Self {
        self.items_key = Some(Cow::Owned(key.to_owned()));
        self
    }

    /// The id field for keyset listing (`ID` by default; `id` for `crm.item.list`).
    pub fn id_field(mut self, field: &str) -> Self {
        self.id_field = Some(Cow::Owned(field.to_owned()));
        self.item_id = match field {
            "ID" => row_id,
            "id" => |row| value_id(row, "id"),
            _ => |row| value_id(row, "ID").or_else(|| value_id(row, "id")),
        };
        self
    }
}

impl<T: DeserializeOwned + Send + 'static> RawList<T> {
    pub(crate) fn from_method<M: ListMethod<Item = T>>(call: &Call<M>) -> Self {
        let client = call.client().clone();
        let (params, invalid) = match params_object(call.method()) {
            Ok(params) => (params, None),
            Err(error) => (Map::new(), Some(error.to_string())),
        };
        Self {
            client,
            name: Cow::Borrowed(M::NAME),
            params,
            items_key: M::ITEMS_KEY.map(Cow::Borrowed),
            id_field: M::ID_FIELD.map(Cow::Borrowed),
            item_id: M::item_id,
            retry_policy: None,
            invalid,
            item: PhantomData,
        }
    }

    /// Overrides the retry policy for every page.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = Some(policy);
        self
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn params(&self) -> &Map<String, Value> {
        &self.params
    }

    pub(crate) fn items_key_str(&self) -> Option<&str> {
        self.items_key.as_deref()
    }

    pub(crate) fn item_id(&self, item: &T) -> Option<u64> {
        (self.item_id)(item)
    }

    pub(crate) fn check(&self) -> Result<()> {
        match &self.invalid {
            Some(message) => Err(Error::invalid_input(message.clone()).with_method(&self.name)),
            None => Ok(()),
        }
    }

    /// The id field, or an error for methods that cannot be listed by id.
    pub(crate) fn require_id_field(&self) -> Result<&str> {
        self.id_field.as_deref().ok_or_else(|| {
            Error::invalid_input("this method cannot be listed by id").with_method(&self.name)
        })
    }

    /// Fetches one page with these parameters.
    pub(crate) async fn fetch(&self, params: Map<String, Value>) -> Result<Page<T>> {
        let mut call = self
            .client
            .call_raw::<page::Rows<T>>(&self.name, Value::Object(params))
            .idempotent(true);
        if let Some(policy) = &self.retry_policy {
            call = call.retry_policy(policy.clone());
        }
        let response = call.send_with_meta().await?;
        Ok(Page::new(
            response.result.into_vec(self.items_key.as_deref()),
            response.total,
            response.next,
        ))
    }

    /// The parameters of a page at offset `start`.
    pub(crate) fn offset_params(&self, start: u64) -> Map<String, Value> {
        let mut params = self.params.clone();
        params.insert("start".into(), Value::from(start));
        params
    }

    /// Pages by offset (`start` = the previous `next`), counting the total on each call.
    pub fn pages(self) -> impl Stream<Item = Result<Page<T>>> + Send + 'static {
        stream::try_unfold(Some(0u64), move |start| {
            let list = self.clone();
            async move {
                let Some(start) = start else { return Ok(None) };
                list.check()?;
                let page = list.fetch(list.offset_params(start)).await?;
                let next = page.next;
                Ok(Some((page, next)))
            }
        })
    }

    /// Every row, by offset pages.
    pub fn stream(self) -> impl Stream<Item = Result<T>> + Send + 'static {
        flatten(self.pages())
    }

    /// Every row, by id: ascending unless [`descending`](ByIdStream::descending), with
    /// `start=-1` so the portal counts nothing.
    pub fn stream_by_id(self) -> ByIdStream<T> {
        ByIdStream {
            list: self,
            descending: false,
            limit: None,
        }
    }

    /// Exports every row as fast as the portal allows; see [`Export`](crate::export::Export).
    pub fn export(self) -> crate::export::Export<T> {
        crate::export::Export::new(self)
    }
}

/// Rows of a stream of pages, one by one.
fn flatten<T: Send + 'static>(
    pages: impl Stream<Item = Result<Page<T>>> + Send + 'static,
) -> impl Stream<Item = Result<T>> + Send + 'static {
    use futures::StreamExt;
    pages.flat_map(|page| match page {
        Ok(page) => stream::iter(page.items.into_iter().map(Ok).collect::<Vec<_>>()),
        Err(error) => stream::iter(vec![Err(error)]),
    })
}

/// The keyset filter and order for the next page: rows past `after` in id order.
pub(crate) fn keyset_params(
    base: &Map<String, Value>,
    id_field: &str,
    after: Option<Value>,
    descending: bool,
) -> Map<String, Value> {
    let mut params = base.clone();
    let mut filter = match params.remove("filter").or_else(|| params.remove("FILTER")) {
        Some(Value::Object(filter)) => filter,
        _ => Map::new(),
    };
    if let Some(after) = after {
        let (strict, inclusive) = if descending { ("<", "<=") } else { (">", ">=") };
        let key = format!("{strict}{id_field}");
        let inclusive_key = format!("{inclusive}{id_field}");
        // A bound of the caller's own in the same direction is kept when it is tighter.
        let own = filter.get(&key).and_then(number).or_else(|| {
            filter.get(&inclusive_key).and_then(number).map(|n| {
                if descending {
                    n + 1
                } else {
                    n.saturating_sub(1)
                }
            })
        });
        let cursor = match (after.as_u64(), own) {
            (Some(after), Some(own)) if descending => Value::from(after.min(own)),
            (Some(after), Some(own)) => Value::from(after.max(own)),
            _ => after,
        };
        filter.remove(&inclusive_key);
        filter.insert(key, cursor);
    }
    params.insert("filter".into(), Value::Object(filter));
    let mut order = Map::new();
    order.insert(
        id_field.to_owned(),
        Value::from(if descending { "DESC" } else { "ASC" }),
    );
    params.remove("ORDER");
    params.insert("order".into(), Value::Object(order));
    params.remove("START");
    params.insert("start".into(), Value::from(-1));
    params
}

fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A keyset stream being configured; it is a `Stream` once turned [`into_stream`](Self::into_stream).
#[must_use = "streams do nothing until polled"]
pub struct ByIdStream<T> {
    list: RawList<T>,
    descending: bool,
    limit: Option<u64>,
}

impl<T> fmt::Debug for ByIdStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ByIdStream")
            .field("list", &self.list)
            .field("descending", &self.descending)
            .field("limit", &self.limit)
            .finish()
    }
}

impl<T: DeserializeOwned + Send + 'static> ByIdStream<T> {
    /// Newest first.
    pub fn descending(mut self) -> Self {
        self.descending = true;
        self
    }

    /// Stops after `limit` rows.
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The stream of rows.
    pub fn into_stream(self) -> impl Stream<Item = Result<T>> + Send + 'static {
        flatten(self.into_pages())
    }

    /// The stream of pages.
    pub fn into_pages(self) -> impl Stream<Item = Result<Page<T>>> + Send + 'static {
        let Self {
            list,
            descending,
            limit,
        } = self;
        let state = ById {
            after: None,
            done: false,
            left: limit,
        };
        stream::try_unfold(state, move |mut state| {
            let list = list.clone();
            async move {
                if state.done || state.left == Some(0) {
                    return Ok(None);
                }
                list.check()?;
                let id_field = list.require_id_field()?.to_owned();
                let params = keyset_params(
                    list.params(),
                    &id_field,
                    state.after.map(Value::from),
                    descending,
                );
                let mut page = list.fetch(params).await?;
                state.done = page.items.len() < PAGE_SIZE;
                if let Some(last) = page.items.last() {
                    let Some(id) = list.item_id(last) else {
                        return Err(Error::decode(
                            "a row without an id: it cannot be listed by id",
                            None,
                        )
                        .with_method(list.name()));
                    };
                    state.after = Some(id);
                }
                if let Some(left) = &mut state.left {
                    let take = usize::try_from(*left)
                        .unwrap_or(usize::MAX)
                        .min(page.items.len());
                    page.items.truncate(take);
                    *left -= take as u64;
                }
                page.total = None;
                page.next = None;
                Ok(Some((page, state)))
            }
        })
    }
}

struct ById {
    after: Option<u64>,
    done: bool,
    left: Option<u64>,
}

impl<M> Call<M>
where
    M: ListMethod,
{
    /// Pages by offset (`start`/`next`); see [`RawList::pages`].
    pub fn pages(self) -> impl Stream<Item = Result<Page<M::Item>>> + Send + 'static {
        RawList::from_method(&self).pages()
    }

    /// Every row, by offset pages; see [`RawList::stream`].
    pub fn stream(self) -> impl Stream<Item = Result<M::Item>> + Send + 'static {
        RawList::from_method(&self).stream()
    }

    /// Every row, by id with `start=-1`; see [`RawList::stream_by_id`].
    pub fn stream_by_id(self) -> ByIdStream<M::Item> {
        RawList::from_method(&self).stream_by_id()
    }

    /// Exports every row as fast as the portal allows; see [`Export`](crate::export::Export).
    pub fn export(self) -> crate::export::Export<M::Item> {
        RawList::from_method(&self).export()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        let Value::Object(map) = value else {
            unreachable!()
        };
        map
    }

    #[test]
    fn keyset_params_merge_with_the_callers_filter() {
        let base = map(
            json!({ "select": ["ID"], "filter": { "STATUS_ID": "NEW", ">=ID": 100 }, "order": { "TITLE": "ASC" }, "start": 50 }),
        );
        let first = keyset_params(&base, "ID", None, false);
        assert_eq!(first["filter"], json!({ "STATUS_ID": "NEW", ">=ID": 100 }));
        assert_eq!(first["order"], json!({ "ID": "ASC" }));
        assert_eq!(first["start"], json!(-1));
        let next = keyset_params(&base, "ID", Some(json!(150)), false);
        assert_eq!(next["filter"], json!({ "STATUS_ID": "NEW", ">ID": 150 }));
        let below_own = keyset_params(&base, "ID", Some(json!(20)), false);
        assert_eq!(
            below_own["filter"][">ID"],
            json!(99),
            "the caller's tighter bound wins"
        );
        let desc = keyset_params(
            &map(json!({ "filter": { "<ID": 500 } })),
            "id",
            Some(json!(700)),
            true,
        );
        assert_eq!(desc["filter"], json!({ "<ID": 500, "<id": 700 }));
        let reference = keyset_params(&base, "ID", Some(json!("$result[c0][49][ID]")), false);
        assert_eq!(reference["filter"][">ID"], "$result[c0][49][ID]");
    }

    #[test]
    fn ids_read_from_strings_or_numbers() {
        assert_eq!(value_id(&json!({ "ID": "42" }), "ID"), Some(42));
        assert_eq!(value_id(&json!({ "id": 7 }), "id"), Some(7));
        assert_eq!(value_id(&json!({ "ID": "x" }), "ID"), None);
    }
}
