//! The SDK's one error type.
//!
//! [`Error`] is opaque: ask it what happened with [`Error::kind`], the predicates
//! (`is_rate_limited`, `is_not_found`, …) and [`Error::api`]. It never prints a URL, a secret or
//! a response body: webhook URLs carry their secret in the path, OAuth token requests carry the
//! client secret in the query, and response bodies carry customers' personal data.

mod code;

use std::error::Error as StdError;
use std::fmt;

pub use code::ErrorCode;

/// `Result` with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A boxed error that can cross threads, used for sources and for [`crate::TokenStore`] failures.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The portal answered with an API error (see [`Error::api`]).
    Api,
    /// HTTP 503 `QUERY_LIMIT_EXCEEDED`: the portal's request-rate bucket is full, even after retries.
    RateLimited,
    /// HTTP 429 `OPERATION_TIME_LIMIT`: this method's operating-time budget is spent.
    OperatingLimit,
    /// Credentials are wrong, expired beyond refresh, revoked, or lack a scope or right.
    Auth,
    /// The request could not be sent or its response could not be read.
    Transport,
    /// An attempt took longer than its timeout.
    Timeout,
    /// The response was not what the method's output type expects.
    Decode,
    /// The caller's input was rejected before anything was sent.
    InvalidInput,
    /// Saving or loading OAuth tokens through the [`crate::TokenStore`] failed.
    TokenStore,
    /// The client was configured wrongly (for example a malformed webhook URL).
    Config,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Api => "API error",
            Self::RateLimited => "rate limited",
            Self::OperatingLimit => "operating-time limit reached",
            Self::Auth => "authentication failed",
            Self::Transport => "transport error",
            Self::Timeout => "timed out",
            Self::Decode => "unexpected response",
            Self::InvalidInput => "invalid input",
            Self::TokenStore => "token store failed",
            Self::Config => "invalid configuration",
        })
    }
}

/// An error reply from the portal or the OAuth token server: `{"error": …, "error_description": …}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The `error` code, verbatim (empty for many old `crm.*` errors).
    pub code: ErrorCode,
    /// The `error_description` text, verbatim (may be empty).
    pub description: String,
    /// The HTTP status of the reply (200 for errors inside a `batch` reply).
    pub http_status: u16,
}

impl ApiError {
    /// Builds an API error from its parts.
    pub fn new(
        code: impl Into<ErrorCode>,
        description: impl Into<String>,
        http_status: u16,
    ) -> Self {
        Self {
            code: code.into(),
            description: description.into(),
            http_status,
        }
    }

    /// Whether this error means "the entity does not exist".
    ///
    /// Bitrix24 says so in several ways: `NOT_FOUND` and `ERROR_NOT_FOUND` codes, the old CRM
    /// form `{"error": "", "error_description": "Not found"}`, and `ERROR_CORE` with a
    /// "not found" text (for example "Элемент не найден" from `crm.contact.delete`).
    pub fn is_not_found(&self) -> bool {
        match &self.code {
            ErrorCode::NotFound | ErrorCode::ErrorNotFound => true,
            ErrorCode::Empty | ErrorCode::Core | ErrorCode::Other(_) => {
                let text = self.description.to_lowercase();
                text.contains("not found") || text.contains("не найден")
            }
            _ => false,
        }
    }

    /// The [`ErrorKind`] this code belongs to.
    pub fn kind(&self) -> ErrorKind {
        match self.code {
            ErrorCode::QueryLimitExceeded => ErrorKind::RateLimited,
            ErrorCode::OperationTimeLimit => ErrorKind::OperatingLimit,
            ErrorCode::NoAuthFound
            | ErrorCode::ExpiredToken
            | ErrorCode::InvalidClient
            | ErrorCode::InvalidGrant
            | ErrorCode::InvalidToken
            | ErrorCode::WrongClient
            | ErrorCode::PaymentRequired
            | ErrorCode::InsufficientScope
            | ErrorCode::InvalidCredentials
            | ErrorCode::UserAccessError
            | ErrorCode::WrongAuthType => ErrorKind::Auth,
            _ => ErrorKind::Api,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {})", self.code, self.http_status)?;
        if !self.description.is_empty() {
            write!(f, ": {}", self.description.trim_end_matches("<br>").trim())?;
        }
        Ok(())
    }
}

impl StdError for ApiError {}

/// The SDK's error: opaque, with a [`kind`](Error::kind), predicates and an intact source chain.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    method: Option<Box<str>>,
    message: Option<String>,
    api: Option<ApiError>,
    source: Option<BoxError>,
    outcome_unknown: bool,
    attempts: u32,
}

impl Error {
    fn new(kind: ErrorKind) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                method: None,
                message: None,
                api: None,
                source: None,
                outcome_unknown: false,
                attempts: 0,
            }),
        }
    }

    pub(crate) fn from_api(api: ApiError) -> Self {
        let mut error = Self::new(api.kind());
        // A 5xx may be raised after the method ran (a timeout inside the portal), so the
        // caller cannot know whether a write happened.
        error.inner.outcome_unknown = api.http_status >= 500
            && !matches!(
                api.code,
                ErrorCode::QueryLimitExceeded | ErrorCode::OverloadLimit | ErrorCode::PortalDeleted
            );
        error.inner.api = Some(api);
        error
    }

    pub(crate) fn transport(source: reqwest::Error, outcome_unknown: bool) -> Self {
        let kind = if source.is_timeout() {
            ErrorKind::Timeout
        } else {
            ErrorKind::Transport
        };
        let mut error = Self::new(kind);
        error.inner.outcome_unknown = outcome_unknown;
        error.inner.source = Some(Box::new(source.without_url()));
        error
    }

    #[cfg(test)]
    pub(crate) fn timeout(after: std::time::Duration) -> Self {
        let mut error = Self::new(ErrorKind::Timeout);
        error.inner.message = Some(format!("no response within {after:?}"));
        error.inner.outcome_unknown = true;
        error
    }

    pub(crate) fn decode(message: impl Into<String>, source: Option<BoxError>) -> Self {
        let mut error = Self::new(ErrorKind::Decode);
        error.inner.message = Some(message.into());
        error.inner.source = source;
        error
    }

    pub(crate) fn invalid_input(message: impl Into<String>) -> Self {
        let mut error = Self::new(ErrorKind::InvalidInput);
        error.inner.message = Some(message.into());
        error
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        let mut error = Self::new(ErrorKind::Config);
        error.inner.message = Some(message.into());
        error
    }

    pub(crate) fn auth(message: impl Into<String>, api: Option<ApiError>) -> Self {
        let mut error = Self::new(ErrorKind::Auth);
        error.inner.message = Some(message.into());
        error.inner.api = api;
        error
    }

    pub(crate) fn token_store(message: impl Into<String>, source: BoxError) -> Self {
        let mut error = Self::new(ErrorKind::TokenStore);
        error.inner.message = Some(message.into());
        error.inner.source = Some(source);
        error
    }

    pub(crate) fn with_method(mut self, method: &str) -> Self {
        if self.inner.method.is_none() {
            self.inner.method = Some(method.into());
        }
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.inner.attempts = attempts;
        self
    }

    pub(crate) fn with_source(mut self, source: BoxError) -> Self {
        self.inner.source = Some(source);
        self
    }

    /// A copy for each of several callers that share one failure (the commands of a batch
    /// that failed as a whole). The source chain is kept as text.
    pub(crate) fn copy(&self) -> Self {
        Self {
            inner: Box::new(Inner {
                kind: self.inner.kind,
                method: self.inner.method.clone(),
                message: self.inner.message.clone(),
                api: self.inner.api.clone(),
                source: self
                    .inner
                    .source
                    .as_ref()
                    .map(|source| -> BoxError { source.to_string().into() }),
                outcome_unknown: self.inner.outcome_unknown,
                attempts: self.inner.attempts,
            }),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The REST method the failed call was for, when there was one.
    pub fn method(&self) -> Option<&str> {
        self.inner.method.as_deref()
    }

    /// The portal's error reply, when the portal (or the token server) sent one.
    pub fn api(&self) -> Option<&ApiError> {
        self.inner.api.as_ref()
    }

    /// The portal's error code, when there was an error reply.
    pub fn code(&self) -> Option<&ErrorCode> {
        self.inner.api.as_ref().map(|api| &api.code)
    }

    /// The HTTP status of the error reply, when there was one.
    pub fn http_status(&self) -> Option<u16> {
        self.inner.api.as_ref().map(|api| api.http_status)
    }

    /// How many attempts were made before giving up (0 when nothing was sent).
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }

    /// HTTP 503 `QUERY_LIMIT_EXCEEDED`: the portal's request-rate bucket was full.
    pub fn is_rate_limited(&self) -> bool {
        self.inner.kind == ErrorKind::RateLimited
    }

    /// HTTP 429 `OPERATION_TIME_LIMIT`: the method's operating-time budget was spent.
    pub fn is_operating_limit(&self) -> bool {
        self.inner.kind == ErrorKind::OperatingLimit
    }

    /// Wrong, expired, revoked or insufficient credentials, here or at the token server.
    pub fn is_auth(&self) -> bool {
        self.inner.kind == ErrorKind::Auth
    }

    /// The entity (lead, task, file, …) does not exist; see [`ApiError::is_not_found`].
    pub fn is_not_found(&self) -> bool {
        self.inner.api.as_ref().is_some_and(ApiError::is_not_found)
    }

    /// An attempt ran past its timeout.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == ErrorKind::Timeout
    }

    /// The request could not be sent or the response could not be read.
    pub fn is_transport(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Transport | ErrorKind::Timeout)
    }

    /// The response did not match the expected output type.
    pub fn is_decode(&self) -> bool {
        self.inner.kind == ErrorKind::Decode
    }

    /// The portal may have carried out the call even though the client saw a failure
    /// (a timeout or reset after the request was sent, or a 5xx reply).
    ///
    /// Before repeating a create after such an error, look the entity up (for example by
    /// `ORIGIN_ID`): repeating it blindly can create it twice.
    pub fn is_outcome_unknown(&self) -> bool {
        self.inner.outcome_unknown
    }

    /// Whether the same call may succeed if made again later: rate and operating limits,
    /// transport failures, timeouts and server errors. For calls that create something, also
    /// check [`is_outcome_unknown`](Self::is_outcome_unknown) first.
    pub fn is_retryable(&self) -> bool {
        match self.inner.kind {
            ErrorKind::RateLimited
            | ErrorKind::OperatingLimit
            | ErrorKind::Transport
            | ErrorKind::Timeout => true,
            ErrorKind::Api => self.inner.api.as_ref().is_some_and(|api| {
                api.http_status >= 500
                    && !matches!(
                        api.code,
                        ErrorCode::PortalDeleted | ErrorCode::OverloadLimit
                    )
            }),
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(method) = &self.inner.method {
            write!(f, "{method}: ")?;
        }
        match (&self.inner.api, &self.inner.message) {
            (Some(api), Some(message)) => write!(f, "{message}: {api}")?,
            (Some(api), None) => write!(f, "{}: {api}", self.inner.kind)?,
            (None, Some(message)) => write!(f, "{}: {message}", self.inner.kind)?,
            (None, None) => match &self.inner.source {
                // Transport errors carry no URL (see `Error::transport`), so their text is safe.
                Some(source) => write!(f, "{}: {source}", self.inner.kind)?,
                None => write!(f, "{}", self.inner.kind)?,
            },
        }
        if self.inner.attempts > 1 {
            write!(f, " (after {} attempts)", self.inner.attempts)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Error");
        debug.field("kind", &self.inner.kind);
        if let Some(method) = &self.inner.method {
            debug.field("method", method);
        }
        if let Some(message) = &self.inner.message {
            debug.field("message", message);
        }
        if let Some(api) = &self.inner.api {
            debug.field("api", api);
        }
        if let Some(source) = &self.inner.source {
            debug.field("source", source);
        }
        if self.inner.outcome_unknown {
            debug.field("outcome_unknown", &true);
        }
        if self.inner.attempts > 0 {
            debug.field("attempts", &self.inner.attempts);
        }
        debug.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match (&self.inner.source, &self.inner.api) {
            (Some(source), _) => Some(source.as_ref()),
            (None, Some(api)) => Some(api),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str, description: &str, status: u16) -> Error {
        Error::from_api(ApiError::new(code, description, status)).with_method("crm.lead.get")
    }

    #[test]
    fn old_crm_empty_code_not_found_is_not_found() {
        let error = api("", "Not found", 400);
        assert!(error.is_not_found());
        assert_eq!(error.code(), Some(&ErrorCode::Empty));
        assert_eq!(error.kind(), ErrorKind::Api);
        assert_eq!(
            error.to_string(),
            "crm.lead.get: API error: (empty code) (HTTP 400): Not found"
        );
    }

    #[test]
    fn not_found_in_every_documented_form() {
        assert!(api("NOT_FOUND", "Element not found", 400).is_not_found());
        assert!(api("ERROR_NOT_FOUND", "Could not find entity with id `5`", 400).is_not_found());
        assert!(api("ERROR_CORE", "Элемент не найден", 400).is_not_found());
        assert!(!api("", "ID is not defined or invalid.", 400).is_not_found());
        assert!(!api("ACCESS_DENIED", "Access denied.", 403).is_not_found());
    }

    #[test]
    fn kinds_and_predicates_follow_the_code() {
        let limited = api("QUERY_LIMIT_EXCEEDED", "Too many requests", 503);
        assert!(
            limited.is_rate_limited() && limited.is_retryable() && !limited.is_outcome_unknown()
        );
        let operating = api("OPERATION_TIME_LIMIT", "Method is blocked", 429);
        assert!(operating.is_operating_limit() && operating.is_retryable());
        for code in [
            "expired_token",
            "NO_AUTH_FOUND",
            "invalid_grant",
            "insufficient_scope",
        ] {
            assert!(api(code, "", 401).is_auth(), "{code}");
        }
        let internal = api("INTERNAL_SERVER_ERROR", "Internal server error", 500);
        assert!(internal.is_retryable() && internal.is_outcome_unknown());
        assert!(!api("PORTAL_DELETED", "", 500).is_retryable());
        assert!(!api("ERROR_CORE", "bad e-mail<br>", 400).is_retryable());
    }

    #[test]
    fn display_trims_the_trailing_br_of_error_core() {
        let error = api("ERROR_CORE", "Неверный e-mail<br>", 400);
        assert_eq!(
            error.to_string(),
            "crm.lead.get: API error: ERROR_CORE (HTTP 400): Неверный e-mail"
        );
    }

    #[test]
    fn source_chain_reaches_the_api_error() {
        let error = api("ACCESS_DENIED", "Access denied.", 403);
        let source = StdError::source(&error).expect("api error as source");
        assert!(source.to_string().contains("ACCESS_DENIED"));
    }
}
