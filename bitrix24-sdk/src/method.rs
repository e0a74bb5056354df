//! Typed methods and the calls that send them.

use std::borrow::Cow;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::response::Response;
use crate::retry::RetryPolicy;

/// A boxed, sendable future, as returned by [`Call`]'s `IntoFuture`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One REST method: its name, whether repeating it is harmless, and what it returns.
///
/// The value itself holds the parameters and serializes to the JSON object sent to the portal.
/// This is the extension point for methods the SDK does not model yet:
///
/// ```
/// #[derive(serde::Serialize)]
/// struct ProfileRequest {}
///
/// impl bitrix24::Method for ProfileRequest {
///     const NAME: &'static str = "profile";
///     const IDEMPOTENT: bool = true;
///     type Output = serde_json::Value;
/// }
/// ```
pub trait Method: Serialize + Send + Sync + 'static {
    /// The exact REST method name, such as `crm.lead.add`.
    const NAME: &'static str;
    /// Whether sending the call twice cannot cause a second side effect.
    ///
    /// Reads are idempotent; creates and sends are not. A call that fails in a way that leaves
    /// its outcome unknown (timeout or reset after sending, 5xx) is only retried when this is
    /// `true`.
    const IDEMPOTENT: bool;
    /// The type the `result` field decodes into.
    type Output: DeserializeOwned + Send + 'static;
}

/// Per-call overrides of the client's settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry_policy: Option<RetryPolicy>,
}

/// What the pipeline needs to send a call, typed or raw.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) name: Cow<'static, str>,
    pub(crate) params: Result<Map<String, Value>>,
    pub(crate) idempotent: bool,
    pub(crate) options: CallOptions,
}

/// Turns parameters into the JSON object that is the request body.
pub(crate) fn params_object(params: &impl Serialize) -> Result<Map<String, Value>> {
    match serde_json::to_value(params) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(Value::Array(items)) if items.is_empty() => Ok(Map::new()),
        Ok(_) => Err(Error::invalid_input(
            "method parameters must serialize to a JSON object",
        )),
        Err(error) => Err(Error::invalid_input(format!(
            "method parameters cannot be serialized: {error}"
        ))),
    }
}

/// A typed call, ready to be sent: `.await` it, or use [`send`](Call::send) /
/// [`send_with_meta`](Call::send_with_meta).
#[must_use = "calls do nothing until awaited or sent"]
pub struct Call<M: Method> {
    client: Client,
    method: M,
    options: CallOptions,
}

impl<M: Method> Call<M> {
    pub(crate) fn new(client: Client, method: M) -> Self {
        Self {
            client,
            method,
            options: CallOptions::default(),
        }
    }

    /// Overrides the per-attempt timeout for this call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Overrides the retry policy for this call.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.options.retry_policy = Some(policy);
        self
    }

    /// Changes the method's parameters in place, for the setters of a typed request:
    /// `client.crm().leads().list().with(|m| m.select(["ID", "TITLE"]))`.
    pub fn with(mut self, change: impl FnOnce(M) -> M) -> Self {
        self.method = change(self.method);
        self
    }

    /// The method and its parameters.
    pub fn method(&self) -> &M {
        &self.method
    }

    /// Mutable access to the method, for example to set a list's `start`.
    pub fn method_mut(&mut self) -> &mut M {
        &mut self.method
    }

    /// The client this call will be sent with.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Gives the method back, for example to put it into a batch.
    pub fn into_method(self) -> M {
        self.method
    }

    fn request(&self) -> Request {
        Request {
            name: Cow::Borrowed(M::NAME),
            params: params_object(&self.method),
            idempotent: M::IDEMPOTENT,
            options: self.options.clone(),
        }
    }

    /// Sends the call and returns its decoded `result`.
    ///
    /// # Errors
    /// Any [`Error`]: the portal's API error, rate or operating limits after retries, auth,
    /// transport, timeout or decode failures.
    pub async fn send(self) -> Result<M::Output> {
        Ok(self.send_with_meta().await?.result)
    }

    /// Sends the call and returns the `result` with `total`, `next` and `time`.
    ///
    /// # Errors
    /// As [`send`](Call::send).
    pub async fn send_with_meta(self) -> Result<Response<M::Output>> {
        let request = self.request();
        self.client.execute(request).await
    }
}

impl<M: Method> IntoFuture for Call<M> {
    type Output = Result<M::Output>;
    type IntoFuture = BoxFuture<'static, Result<M::Output>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

impl<M: Method + fmt::Debug> fmt::Debug for Call<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("method", &self.method)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A call to a method by name, with parameters given as any serializable value.
///
/// It goes through the same pipeline as typed calls: auth, rate limiter, retries. Raw calls are
/// treated as non-idempotent unless marked with [`idempotent`](RawCall::idempotent), so an
/// ambiguous failure of an unknown method is never repeated behind your back.
#[must_use = "calls do nothing until awaited or sent"]
pub struct RawCall<T> {
    client: Client,
    request: Request,
    output: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned + Send + 'static> RawCall<T> {
    pub(crate) fn new(client: Client, name: &str, params: Result<Map<String, Value>>) -> Self {
        let request = Request {
            name: Cow::Owned(name.to_owned()),
            params,
            idempotent: false,
            options: CallOptions::default(),
        };
        Self {
            client,
            request,
            output: PhantomData,
        }
    }

    /// Declares whether repeating this method is harmless (default `false`).
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.request.idempotent = idempotent;
        self
    }

    /// Overrides the per-attempt timeout for this call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.request.options.timeout = Some(timeout);
        self
    }

    /// Overrides the retry policy for this call.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.request.options.retry_policy = Some(policy);
        self
    }

    /// Sends the call and returns its decoded `result`.
    ///
    /// # Errors
    /// As [`Call::send`]; also [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) when
    /// the name is empty or the parameters are not a JSON object.
    pub async fn send(self) -> Result<T> {
        Ok(self.send_with_meta().await?.result)
    }

    /// Sends the call and returns the `result` with `total`, `next` and `time`.
    ///
    /// # Errors
    /// As [`send`](RawCall::send).
    pub async fn send_with_meta(self) -> Result<Response<T>> {
        self.client.execute(self.request).await
    }
}

impl<T: DeserializeOwned + Send + 'static> IntoFuture for RawCall<T> {
    type Output = Result<T>;
    type IntoFuture = BoxFuture<'static, Result<T>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

impl<T> fmt::Debug for RawCall<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Parameters are left out: they may hold personal data.
        f.debug_struct("RawCall")
            .field("method", &self.request.name)
            .field("idempotent", &self.request.idempotent)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize)]
    struct Fields {
        id: u64,
    }

    #[test]
    fn params_must_be_an_object() {
        assert!(params_object(&Unit).unwrap().is_empty());
        assert!(params_object(&()).unwrap().is_empty());
        assert_eq!(params_object(&Fields { id: 4 }).unwrap()["id"], 4);
        assert!(params_object(&[1, 2]).unwrap_err().kind() == crate::ErrorKind::InvalidInput);
        assert!(params_object(&"text").is_err());
    }
}
