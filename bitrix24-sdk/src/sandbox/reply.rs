//! What a method handler returns: a result with its paging and the work it did, or a failure.

use serde_json::Value;

/// How much work a call made the portal do, for the operating-time [`CostModel`](super::CostModel).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Work {
    /// Rows put in the reply.
    pub rows_returned: u64,
    /// Rows counted for `total` (only when `start >= 0`).
    pub rows_counted: u64,
    /// Rows skipped to reach `start`.
    pub rows_skipped: u64,
}

impl Work {
    /// Work of a call that returned, counted and skipped so many rows.
    pub fn new(rows_returned: u64, rows_counted: u64, rows_skipped: u64) -> Self {
        Self {
            rows_returned,
            rows_counted,
            rows_skipped,
        }
    }
}

/// A successful reply.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub(crate) result: Value,
    pub(crate) total: Option<u64>,
    pub(crate) next: Option<u64>,
    pub(crate) work: Work,
}

impl Reply {
    pub(crate) fn new(result: Value) -> Self {
        Self {
            result,
            total: None,
            next: None,
            work: Work::default(),
        }
    }

    pub(crate) fn page(result: Value, total: Option<u64>, next: Option<u64>, work: Work) -> Self {
        Self {
            result,
            total,
            next,
            work,
        }
    }
}

impl From<Value> for Reply {
    fn from(result: Value) -> Self {
        Self::new(result)
    }
}

/// An error reply: HTTP status, `error` code and `error_description`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fail {
    pub(crate) status: u16,
    pub(crate) code: String,
    pub(crate) description: String,
}

impl Fail {
    pub(crate) fn new(
        status: u16,
        code: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            description: description.into(),
        }
    }

    /// HTTP 400, the status of most business errors.
    pub(crate) fn bad_request(code: impl Into<String>, description: impl Into<String>) -> Self {
        Self::new(400, code, description)
    }

    /// The old CRM methods' not-found: `{"error": "", "error_description": "Not found"}`.
    pub(crate) fn crm_not_found() -> Self {
        Self::bad_request("", "Not found")
    }

    /// `ERROR_ARGUMENT` "Argument 'X' is null or empty".
    pub(crate) fn argument_empty(name: &str) -> Self {
        Self::bad_request(
            "ERROR_ARGUMENT",
            format!("Argument '{name}' is null or empty"),
        )
    }

    /// The documented error of app-only methods called with a webhook.
    pub(crate) fn wrong_auth_type() -> Self {
        Self::new(
            403,
            "WRONG_AUTH_TYPE",
            "Current authorization type is denied for this method Application context required",
        )
    }

    /// An unknown method.
    pub(crate) fn method_not_found() -> Self {
        Self::new(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
    }
}

pub(crate) type Outcome = Result<Reply, Fail>;
