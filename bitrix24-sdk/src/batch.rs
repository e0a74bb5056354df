//! `batch`: up to 50 calls in one HTTP request, with results per command.
//!
//! Each command is written as `method?query`, its parameters encoded with PHP-style brackets
//! (`fields[TITLE]=…&filter[>ID]=5`), the way the portal's `parse_str` reads them. The portal
//! runs the commands in order and, after decoding each query, replaces references to earlier
//! results (`$result[key][field]`, `$result_next[key]`, …) in it, so a command can use what
//! an earlier one returned. The reply is HTTP 200 even when commands fail; every command has
//! its own result or error, and successes of a partly failed batch are never lost.
//!
//! ```no_run
//! # async fn run(client: bitrix24::Client) -> bitrix24::Result<()> {
//! let mut batch = client.batch();
//! let lead = batch.add_raw::<u64>("crm.lead.add", serde_json::json!({ "fields": { "TITLE": "New" } }), false);
//! let read = batch.add_raw::<serde_json::Value>("crm.lead.get", serde_json::json!({ "id": lead.reference("") }), true);
//! let mut reply = batch.send().await?;
//! let id = reply.take(&lead)?;
//! let row = reply.take(&read)?;
//! # Ok(()) }
//! ```

mod all;
mod encode;

pub(crate) use all::{IN_FLIGHT, batch_all};

use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

pub use encode::encode_query;

use crate::client::Client;
use crate::error::{ApiError, Error, ErrorCode, Result};
use crate::method::{Method, params_object};
use crate::response::Timing;
use crate::retry::RetryPolicy;

/// The most commands one `batch` may carry.
pub const MAX_COMMANDS: usize = 50;

/// A command's handle: takes its typed result out of the reply, and refers to it from later
/// commands of the same batch.
pub struct BatchKey<T> {
    key: String,
    method: String,
    output: PhantomData<fn() -> T>,
}

impl<T> Clone for BatchKey<T> {
    fn clone(&self) -> Self {
        Self {
            key: self.key.clone(),
            method: self.method.clone(),
            output: PhantomData,
        }
    }
}

impl<T> fmt::Debug for BatchKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchKey")
            .field("key", &self.key)
            .field("method", &self.method)
            .finish()
    }
}

impl<T> BatchKey<T> {
    /// The command's key in `cmd`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The REST method of the command.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// A reference to this command's result, or to a part of it: `path` is PHP-style,
    /// such as `"[ID]"`, `"[0][ID]"` or `""` for the whole result.
    ///
    /// Use it as a parameter value of a later command. A value that is nothing but a
    /// reference takes the referenced value whatever its type; inside a longer text only a
    /// text is substituted. A path that does not resolve leaves what it reached (the portal's
    /// behaviour), so refer only to what certainly exists.
    pub fn reference(&self, path: &str) -> BatchRef {
        BatchRef(format!("$result[{}]{path}", self.key))
    }

    /// A reference to one field of this command's result: `$result[key][FIELD]`.
    pub fn field(&self, field: &str) -> BatchRef {
        self.reference(&format!("[{field}]"))
    }

    /// A reference to this command's `next` (for list methods).
    pub fn next_start(&self) -> BatchRef {
        BatchRef(format!("$result_next[{}]", self.key))
    }
}

/// A reference to an earlier command's result, used as a parameter value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BatchRef(String);

impl BatchRef {
    /// The reference as the portal reads it, such as `$result[c0][ID]`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BatchRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for BatchRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[derive(Debug, Clone)]
struct Command {
    key: String,
    method: String,
    query: String,
    idempotent: bool,
}

/// A batch being put together; send it with [`send`](Batch::send).
#[must_use = "a batch does nothing until sent"]
pub struct Batch {
    client: Client,
    commands: Vec<Command>,
    keys: HashSet<String>,
    halt: bool,
    invalid: Option<Error>,
    retry_policy: Option<RetryPolicy>,
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field(
                "commands",
                &self
                    .commands
                    .iter()
                    .map(|c| (&c.key, &c.method))
                    .collect::<Vec<_>>(),
            )
            .field("halt", &self.halt)
            .finish_non_exhaustive()
    }
}

/// Keys become `cmd[key]` and appear in references: only characters that cannot end a
/// bracket or a parameter.
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 64
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn valid_method(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
}

impl Batch {
    pub(crate) fn new(client: Client) -> Self {
        Self {
            client,
            commands: Vec::new(),
            keys: HashSet::new(),
            halt: false,
            invalid: None,
            retry_policy: None,
        }
    }

    /// Adds a typed command under the next free key (`c0`, `c1`, …).
    #[allow(
        clippy::needless_pass_by_value,
        reason = "the batch takes the call over, as `Client::call` does"
    )]
    pub fn add<M: Method>(&mut self, method: M) -> BatchKey<M::Output> {
        let key = self.next_key();
        self.push(key, M::NAME, params_object(&method), M::IDEMPOTENT)
    }

    /// Adds a typed command under `key` (letters, digits, `_`, `-`, `.`; unique in the batch).
    #[allow(
        clippy::needless_pass_by_value,
        reason = "the batch takes the call over, as `Client::call` does"
    )]
    pub fn add_named<M: Method>(&mut self, key: &str, method: M) -> BatchKey<M::Output> {
        self.push(
            key.to_owned(),
            M::NAME,
            params_object(&method),
            M::IDEMPOTENT,
        )
    }

    /// Adds a command by method name, with any serializable parameters. `idempotent` says
    /// whether repeating it is harmless.
    pub fn add_raw<T: DeserializeOwned>(
        &mut self,
        name: &str,
        params: impl Serialize,
        idempotent: bool,
    ) -> BatchKey<T> {
        let key = self.next_key();
        self.push(key, name, params_object(&params), idempotent)
    }

    /// Adds a command by method name under `key`.
    pub fn add_raw_named<T: DeserializeOwned>(
        &mut self,
        key: &str,
        name: &str,
        params: impl Serialize,
        idempotent: bool,
    ) -> BatchKey<T> {
        self.push(key.to_owned(), name, params_object(&params), idempotent)
    }

    /// Whether the portal stops at the first failing command (`halt`, default `false`).
    pub fn halt(&mut self, halt: bool) -> &mut Self {
        self.halt = halt;
        self
    }

    /// Overrides the client's retry policy for this batch.
    pub fn retry_policy(&mut self, policy: RetryPolicy) -> &mut Self {
        self.retry_policy = Some(policy);
        self
    }

    /// How many commands it holds.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// Whether it holds no command.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    fn next_key(&self) -> String {
        let mut index = self.commands.len();
        loop {
            let key = format!("c{index}");
            if !self.keys.contains(&key) {
                return key;
            }
            index += 1;
        }
    }

    fn push<T>(
        &mut self,
        key: String,
        name: &str,
        params: Result<Map<String, Value>>,
        idempotent: bool,
    ) -> BatchKey<T> {
        let handle = BatchKey {
            key: key.clone(),
            method: name.to_owned(),
            output: PhantomData,
        };
        if self.invalid.is_some() {
            return handle;
        }
        let problem = if !valid_key(&key) {
            Some(Error::invalid_input(format!(
                "batch key `{key}` may only hold letters, digits, `_`, `-` and `.`"
            )))
        } else if !self.keys.insert(key.clone()) {
            Some(Error::invalid_input(format!(
                "batch key `{key}` is used twice"
            )))
        } else if !valid_method(name) {
            Some(Error::invalid_input(
                "a method name may only contain letters, digits, dots and underscores",
            ))
        } else if name.eq_ignore_ascii_case("batch") {
            Some(Error::invalid_input("a batch cannot contain another batch"))
        } else {
            None
        };
        if let Some(problem) = problem {
            self.invalid = Some(problem);
            return handle;
        }
        match params {
            Ok(params) => {
                let query = encode_query(&params);
                self.commands.push(Command {
                    key,
                    method: name.to_owned(),
                    query,
                    idempotent,
                });
            }
            Err(error) => self.invalid = Some(error.with_method(name)),
        }
        handle
    }

    /// Sends the batch as one HTTP request.
    ///
    /// The batch counts as one request against the portal's rate limit; it is retried after an
    /// ambiguous failure only when every command is idempotent.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) for more than 50 commands,
    /// a bad key or unserializable parameters (nothing is sent), or any error of the `batch`
    /// request itself. Errors of single commands are in the [`BatchResponse`].
    pub async fn send(self) -> Result<BatchResponse> {
        if let Some(error) = self.invalid {
            return Err(error.with_method("batch"));
        }
        if self.commands.len() > MAX_COMMANDS {
            return Err(Error::invalid_input(format!(
                "a batch holds at most {MAX_COMMANDS} commands, this one has {}",
                self.commands.len()
            ))
            .with_method("batch"));
        }
        let methods: Vec<(String, String)> = self
            .commands
            .iter()
            .map(|c| (c.key.clone(), c.method.clone()))
            .collect();
        if self.commands.is_empty() {
            return Ok(BatchResponse::empty(methods));
        }
        let idempotent = self.commands.iter().all(|c| c.idempotent);
        let cmd: Map<String, Value> = self
            .commands
            .into_iter()
            .map(|c| {
                let line = if c.query.is_empty() {
                    c.method
                } else {
                    format!("{}?{}", c.method, c.query)
                };
                (c.key, Value::String(line))
            })
            .collect();
        let params = serde_json::json!({ "halt": u8::from(self.halt), "cmd": cmd });
        let mut call = self
            .client
            .call_raw::<RawBatch>("batch", params)
            .idempotent(idempotent);
        if let Some(policy) = self.retry_policy {
            call = call.retry_policy(policy);
        }
        let raw = call.await?;
        let response = BatchResponse::from_raw(raw, methods);
        // A command refused for its method's spent budget pauses that method, as a single
        // call's 429 would.
        for (key, error) in &response.errors {
            if error.code == ErrorCode::OperationTimeLimit
                && let Some(method) = response.method_of(key)
            {
                self.client.operating_budget().note_limit_exceeded(method);
            }
        }
        Ok(response)
    }
}

/// `[]` (PHP's empty array) or a map.
fn map_or_empty<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Map<String, Value>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Object(map) => Ok(map),
        Value::Array(items) => Ok(items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect()),
        Value::Null => Ok(Map::new()),
        _ => Err(serde::de::Error::custom("expected a map or an empty list")),
    }
}

/// The `result` of a `batch` reply.
#[derive(Debug, Deserialize)]
struct RawBatch {
    #[serde(default, deserialize_with = "map_or_empty")]
    result: Map<String, Value>,
    #[serde(default, deserialize_with = "map_or_empty")]
    result_error: Map<String, Value>,
    #[serde(default, deserialize_with = "map_or_empty")]
    result_total: Map<String, Value>,
    #[serde(default, deserialize_with = "map_or_empty")]
    result_next: Map<String, Value>,
    #[serde(default, deserialize_with = "map_or_empty")]
    result_time: Map<String, Value>,
}

/// The reply to a batch: one result or error per command.
#[derive(Debug, Clone)]
pub struct BatchResponse {
    methods: Vec<(String, String)>,
    results: Map<String, Value>,
    errors: Vec<(String, ApiError)>,
    totals: Map<String, Value>,
    nexts: Map<String, Value>,
    times: Map<String, Value>,
}

impl BatchResponse {
    fn empty(methods: Vec<(String, String)>) -> Self {
        Self {
            methods,
            results: Map::new(),
            errors: Vec::new(),
            totals: Map::new(),
            nexts: Map::new(),
            times: Map::new(),
        }
    }

    fn from_raw(raw: RawBatch, methods: Vec<(String, String)>) -> Self {
        let errors = raw
            .result_error
            .into_iter()
            .map(|(key, error)| {
                let code = error
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let description = error
                    .get("error_description")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                (key, ApiError::new(code, description, 200))
            })
            .collect();
        Self {
            methods,
            results: raw.result,
            errors,
            totals: raw.result_total,
            nexts: raw.result_next,
            times: raw.result_time,
        }
    }

    fn method_of(&self, key: &str) -> Option<&str> {
        self.methods
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, m)| m.as_str())
    }

    /// Takes a command's result out of the reply, decoded into its type.
    ///
    /// # Errors
    /// The command's own API error; [`ErrorKind::Api`](crate::ErrorKind::Api) when it was not
    /// run (`halt` stopped the batch earlier) or was taken already; a decode error naming the
    /// JSON path when the result does not fit the type.
    pub fn take<T: DeserializeOwned>(&mut self, key: &BatchKey<T>) -> Result<T> {
        if let Some((_, error)) = self.errors.iter().find(|(k, _)| *k == key.key) {
            return Err(Error::from_api(error.clone()).with_method(&key.method));
        }
        let Some(value) = self.results.remove(&key.key) else {
            return Err(Error::from_api(ApiError::new(
                "",
                "the command has no result: halt stopped the batch before it, or it was taken already",
                200,
            ))
            .with_method(&key.method));
        };
        decode_value(&value).map_err(|error| error.with_method(&key.method))
    }

    /// A list command's `total`.
    pub fn total<T>(&self, key: &BatchKey<T>) -> Option<u64> {
        self.totals.get(&key.key).and_then(number)
    }

    /// A list command's `next`, present only when more rows exist.
    pub fn next<T>(&self, key: &BatchKey<T>) -> Option<u64> {
        self.nexts.get(&key.key).and_then(number)
    }

    /// How long the portal took for a command.
    pub fn time<T>(&self, key: &BatchKey<T>) -> Option<Timing> {
        self.times
            .get(&key.key)
            .and_then(|time| serde_json::from_value(time.clone()).ok())
    }

    /// The commands that failed, by key.
    pub fn errors(&self) -> impl Iterator<Item = (&str, &ApiError)> {
        self.errors.iter().map(|(k, e)| (k.as_str(), e))
    }

    /// Whether every command succeeded.
    pub fn is_success(&self) -> bool {
        self.errors.is_empty()
            && self
                .methods
                .iter()
                .all(|(k, _)| self.results.contains_key(k))
    }
}

fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Decodes a JSON value into `T`, naming the path of a mismatch.
pub(crate) fn decode_value<T: DeserializeOwned>(value: &Value) -> Result<T> {
    let text = value.to_string();
    let raw = serde_json::value::RawValue::from_string(text)
        .map_err(|error| Error::decode("a batch result is not JSON", Some(Box::new(error))))?;
    crate::response::decode_result(&raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_methods_are_checked() {
        assert!(valid_key("c0") && valid_key("get_user") && valid_key("a-b.c"));
        assert!(!valid_key("") && !valid_key("a]b") && !valid_key("a&b") && !valid_key("a b"));
        assert!(valid_method("crm.lead.add") && !valid_method("crm.lead.add?x=1"));
    }

    #[test]
    fn empty_members_decode_as_empty_maps() {
        let raw: RawBatch = serde_json::from_value(serde_json::json!({
            "result": [], "result_error": { "a": { "error": "NOT_FOUND", "error_description": "x" } },
            "result_total": [], "result_next": { "b": 50 }, "result_time": []
        }))
        .unwrap();
        let mut response = BatchResponse::from_raw(
            raw,
            vec![
                ("a".into(), "crm.item.get".into()),
                ("b".into(), "crm.lead.list".into()),
            ],
        );
        assert!(!response.is_success());
        let key = |key: &str, method: &str| BatchKey::<Value> {
            key: key.into(),
            method: method.into(),
            output: PhantomData,
        };
        assert_eq!(response.next(&key("b", "crm.lead.list")), Some(50));
        let error = response.take(&key("a", "crm.item.get")).unwrap_err();
        assert!(error.is_not_found());
        assert_eq!(error.method(), Some("crm.item.get"));
    }
}
