//! The `error` strings Bitrix24 sends, as an enum that keeps unknown ones.

use std::fmt;

/// The `error` field of a Bitrix24 error reply, or of an OAuth token-server reply.
///
/// Every code listed in the official system-error table has a variant, as do the codes the
/// SDK's logic depends on. Anything else is kept verbatim in [`ErrorCode::Other`], and the empty
/// string that the old `crm.*` methods send (with the meaning only in the description) is
/// [`ErrorCode::Empty`]. [`ErrorCode::as_str`] always returns the exact wire string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `INTERNAL_SERVER_ERROR` (HTTP 500).
    InternalServerError,
    /// `ERROR_UNEXPECTED_ANSWER` (HTTP 500): the server returned an unexpected response.
    UnexpectedAnswer,
    /// `QUERY_LIMIT_EXCEEDED` (HTTP 503): the portal's leaky bucket is full.
    QueryLimitExceeded,
    /// `OPERATION_TIME_LIMIT` (HTTP 429): this method's operating-time budget is spent.
    OperationTimeLimit,
    /// `ERROR_BATCH_METHOD_NOT_ALLOWED` (HTTP 405): the method may not run inside `batch`.
    BatchMethodNotAllowed,
    /// `ERROR_BATCH_LENGTH_EXCEEDED` (HTTP 400): more than 50 commands in one `batch`.
    BatchLengthExceeded,
    /// `NO_AUTH_FOUND` (HTTP 401): wrong access token or webhook code.
    NoAuthFound,
    /// `INVALID_REQUEST` (HTTP 400): for example "Https required"; also a token-server code.
    InvalidRequest,
    /// `OVERLOAD_LIMIT` (HTTP 503): REST is blocked by support for this portal.
    OverloadLimit,
    /// `ACCESS_DENIED` (HTTP 403 or 400): REST not available on the plan, or no right to act.
    AccessDenied,
    /// `INVALID_CREDENTIALS` (HTTP 403): the user lacks the rights for this call.
    InvalidCredentials,
    /// `ERROR_MANIFEST_IS_NOT_AVAILABLE` (HTTP 404).
    ManifestIsNotAvailable,
    /// `insufficient_scope` (HTTP 403): the webhook or app lacks the scope; also a token-server code.
    InsufficientScope,
    /// `expired_token` (HTTP 401): the OAuth access token has expired and must be refreshed.
    ExpiredToken,
    /// `user_access_error` (HTTP 403): the user has no access to the application.
    UserAccessError,
    /// `PORTAL_DELETED` (HTTP 500): the portal no longer exists.
    PortalDeleted,
    /// `WRONG_AUTH_TYPE` (HTTP 403): the method needs an application (OAuth) context.
    WrongAuthType,
    /// `ERROR_METHOD_NOT_FOUND` (HTTP 404): no such method.
    MethodNotFound,
    /// `ERROR_CORE`: a generic business-validation error.
    Core,
    /// `ERROR_REQUIRED_PARAMETERS_MISSING`.
    RequiredParametersMissing,
    /// `ERROR_ARGUMENT`: a parameter is missing or invalid.
    Argument,
    /// `NOT_FOUND`: the entity does not exist.
    NotFound,
    /// `ERROR_NOT_FOUND`: the entity does not exist (disk and other modules).
    ErrorNotFound,
    /// `invalid_client` (token server): bad client id or secret, or the app is not installed.
    InvalidClient,
    /// `invalid_grant` (token server): bad or expired code or refresh token; authorize again.
    InvalidGrant,
    /// `invalid_scope` (token server).
    InvalidScope,
    /// `invalid_token`: a token the server does not accept.
    InvalidToken,
    /// `wrong_client`: the token belongs to another application.
    WrongClient,
    /// `PAYMENT_REQUIRED` (token server): the app's trial or paid period has ended.
    PaymentRequired,
    /// The empty string the old `crm.*` methods send; the meaning is in the description.
    Empty,
    /// Any other code, verbatim (module codes such as `CHAT_ID`, task codes such as `"100"`).
    Other(String),
}

impl ErrorCode {
    /// Parses a wire string. Known codes are matched exactly as Bitrix24 spells them.
    pub fn parse(code: &str) -> Self {
        match code {
            "INTERNAL_SERVER_ERROR" => Self::InternalServerError,
            "ERROR_UNEXPECTED_ANSWER" => Self::UnexpectedAnswer,
            "QUERY_LIMIT_EXCEEDED" => Self::QueryLimitExceeded,
            "OPERATION_TIME_LIMIT" => Self::OperationTimeLimit,
            "ERROR_BATCH_METHOD_NOT_ALLOWED" => Self::BatchMethodNotAllowed,
            "ERROR_BATCH_LENGTH_EXCEEDED" => Self::BatchLengthExceeded,
            "NO_AUTH_FOUND" => Self::NoAuthFound,
            "INVALID_REQUEST" | "invalid_request" => Self::InvalidRequest,
            "OVERLOAD_LIMIT" => Self::OverloadLimit,
            "ACCESS_DENIED" => Self::AccessDenied,
            "INVALID_CREDENTIALS" => Self::InvalidCredentials,
            "ERROR_MANIFEST_IS_NOT_AVAILABLE" => Self::ManifestIsNotAvailable,
            "insufficient_scope" => Self::InsufficientScope,
            "expired_token" => Self::ExpiredToken,
            "user_access_error" => Self::UserAccessError,
            "PORTAL_DELETED" => Self::PortalDeleted,
            "WRONG_AUTH_TYPE" => Self::WrongAuthType,
            "ERROR_METHOD_NOT_FOUND" => Self::MethodNotFound,
            "ERROR_CORE" => Self::Core,
            "ERROR_REQUIRED_PARAMETERS_MISSING" => Self::RequiredParametersMissing,
            "ERROR_ARGUMENT" => Self::Argument,
            "NOT_FOUND" => Self::NotFound,
            "ERROR_NOT_FOUND" => Self::ErrorNotFound,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "invalid_scope" => Self::InvalidScope,
            "invalid_token" => Self::InvalidToken,
            "wrong_client" => Self::WrongClient,
            "PAYMENT_REQUIRED" => Self::PaymentRequired,
            "" => Self::Empty,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The exact wire string of this code.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InternalServerError => "INTERNAL_SERVER_ERROR",
            Self::UnexpectedAnswer => "ERROR_UNEXPECTED_ANSWER",
            Self::QueryLimitExceeded => "QUERY_LIMIT_EXCEEDED",
            Self::OperationTimeLimit => "OPERATION_TIME_LIMIT",
            Self::BatchMethodNotAllowed => "ERROR_BATCH_METHOD_NOT_ALLOWED",
            Self::BatchLengthExceeded => "ERROR_BATCH_LENGTH_EXCEEDED",
            Self::NoAuthFound => "NO_AUTH_FOUND",
            Self::InvalidRequest => "INVALID_REQUEST",
            Self::OverloadLimit => "OVERLOAD_LIMIT",
            Self::AccessDenied => "ACCESS_DENIED",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::ManifestIsNotAvailable => "ERROR_MANIFEST_IS_NOT_AVAILABLE",
            Self::InsufficientScope => "insufficient_scope",
            Self::ExpiredToken => "expired_token",
            Self::UserAccessError => "user_access_error",
            Self::PortalDeleted => "PORTAL_DELETED",
            Self::WrongAuthType => "WRONG_AUTH_TYPE",
            Self::MethodNotFound => "ERROR_METHOD_NOT_FOUND",
            Self::Core => "ERROR_CORE",
            Self::RequiredParametersMissing => "ERROR_REQUIRED_PARAMETERS_MISSING",
            Self::Argument => "ERROR_ARGUMENT",
            Self::NotFound => "NOT_FOUND",
            Self::ErrorNotFound => "ERROR_NOT_FOUND",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidToken => "invalid_token",
            Self::WrongClient => "wrong_client",
            Self::PaymentRequired => "PAYMENT_REQUIRED",
            Self::Empty => "",
            Self::Other(code) => code,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if matches!(self, Self::Empty) {
            f.write_str("(empty code)")
        } else {
            f.write_str(self.as_str())
        }
    }
}

impl From<&str> for ErrorCode {
    fn from(code: &str) -> Self {
        Self::parse(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_code_round_trips() {
        let codes = [
            "INTERNAL_SERVER_ERROR",
            "ERROR_UNEXPECTED_ANSWER",
            "QUERY_LIMIT_EXCEEDED",
            "OPERATION_TIME_LIMIT",
            "ERROR_BATCH_METHOD_NOT_ALLOWED",
            "ERROR_BATCH_LENGTH_EXCEEDED",
            "NO_AUTH_FOUND",
            "INVALID_REQUEST",
            "OVERLOAD_LIMIT",
            "ACCESS_DENIED",
            "INVALID_CREDENTIALS",
            "ERROR_MANIFEST_IS_NOT_AVAILABLE",
            "insufficient_scope",
            "expired_token",
            "user_access_error",
            "PORTAL_DELETED",
            "WRONG_AUTH_TYPE",
            "ERROR_METHOD_NOT_FOUND",
            "ERROR_CORE",
            "ERROR_REQUIRED_PARAMETERS_MISSING",
            "ERROR_ARGUMENT",
            "NOT_FOUND",
            "ERROR_NOT_FOUND",
            "invalid_client",
            "invalid_grant",
            "invalid_scope",
            "invalid_token",
            "wrong_client",
            "PAYMENT_REQUIRED",
            "",
        ];
        for code in codes {
            let parsed = ErrorCode::parse(code);
            assert!(
                !matches!(parsed, ErrorCode::Other(_)),
                "{code} is not named"
            );
            assert_eq!(parsed.as_str(), code);
        }
    }

    #[test]
    fn unknown_codes_are_kept_verbatim() {
        assert_eq!(
            ErrorCode::parse("1048582"),
            ErrorCode::Other("1048582".into())
        );
        assert_eq!(ErrorCode::parse("CHAT_ID").as_str(), "CHAT_ID");
        assert_eq!(ErrorCode::parse("").to_string(), "(empty code)");
        // The token server spells invalid_request in lower case.
        assert_eq!(
            ErrorCode::parse("invalid_request"),
            ErrorCode::InvalidRequest
        );
    }
}
