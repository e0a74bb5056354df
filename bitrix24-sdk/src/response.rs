//! The reply envelope: `{"result": …, "total": …, "next": …, "time": {…}}`.

use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::{ApiError, Error, Result};

/// A decoded reply with its metadata.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Response<T> {
    /// The method's `result`, decoded into its output type.
    pub result: T,
    /// `total`: how many rows a list method matched (absent or 0 with `start=-1`).
    pub total: Option<u64>,
    /// `next`: the `start` of the next page, present only when more rows exist.
    pub next: Option<u64>,
    /// `time`: how long the portal took, and this method's operating-time budget.
    pub time: Option<Timing>,
}

impl<T> Response<T> {
    /// Builds a response from its parts (used by batch results and tests).
    pub fn new(result: T, total: Option<u64>, next: Option<u64>, time: Option<Timing>) -> Self {
        Self {
            result,
            total,
            next,
            time,
        }
    }

    /// Maps the result, keeping the metadata.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            result: f(self.result),
            total: self.total,
            next: self.next,
            time: self.time,
        }
    }
}

/// The `time` object the portal adds to every reply.
///
/// Numbers are read leniently (a number or a numeric string). `operating` and
/// `operating_reset_at` are present on cloud portals; many documented examples leave them out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Timing {
    /// `start`: when the portal started the request, in unix seconds.
    #[serde(default, deserialize_with = "lenient::f64")]
    pub start: f64,
    /// `finish`: when the portal finished the request, in unix seconds.
    #[serde(default, deserialize_with = "lenient::f64")]
    pub finish: f64,
    /// `duration`: `finish - start`, in seconds.
    #[serde(default, deserialize_with = "lenient::f64")]
    pub duration: f64,
    /// `processing`: time spent in the method itself, in seconds.
    #[serde(default, deserialize_with = "lenient::f64")]
    pub processing: f64,
    /// `date_start`: ISO-8601 start time with offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_start: Option<String>,
    /// `date_finish`: ISO-8601 finish time with offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_finish: Option<String>,
    /// `operating`: seconds this app or webhook spent in this method over the last 10 minutes.
    #[serde(
        default,
        deserialize_with = "lenient::opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub operating: Option<f64>,
    /// `operating_reset_at`: unix time when the oldest one-minute bucket of `operating` expires.
    #[serde(
        default,
        deserialize_with = "lenient::opt_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub operating_reset_at: Option<i64>,
}

/// The envelope as it is on the wire; `result` stays raw until the caller's type decodes it.
#[derive(Deserialize)]
struct RawEnvelope<'a> {
    // `null` is a valid result (for example `crm.timeline.comment.delete`), so a present
    // field must not collapse into `None` the way `Option` would make it.
    #[serde(borrow, default, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    error_description: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    total: Option<u64>,
    #[serde(default, deserialize_with = "lenient::opt_u64")]
    next: Option<u64>,
    #[serde(default)]
    time: Option<Timing>,
}

fn present<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(deserializer).map(Some)
}

/// A successful envelope whose `result` is still raw JSON.
#[derive(Debug)]
pub(crate) struct RawResponse<'a> {
    pub(crate) result: &'a RawValue,
    pub(crate) total: Option<u64>,
    pub(crate) next: Option<u64>,
    pub(crate) time: Option<Timing>,
}

/// Splits a reply body into a success envelope or the portal's API error.
///
/// `Ok(Err(api))` is an error reply; `Err(..)` means the body was not a Bitrix24 envelope.
pub(crate) fn parse_envelope(
    body: &[u8],
    http_status: u16,
) -> Result<std::result::Result<RawResponse<'_>, ApiError>> {
    let Ok(envelope) = serde_json::from_slice::<RawEnvelope<'_>>(body) else {
        // Proxies and the portal's nginx answer some failures with HTML; the status is all
        // there is to go on, and the body (possibly with personal data) is not repeated.
        if http_status >= 300 {
            return Ok(Err(ApiError::new(
                "",
                format!("HTTP {http_status} without a JSON error body"),
                http_status,
            )));
        }
        return Err(Error::decode("the reply is not a JSON envelope", None));
    };
    if let Some(code) = envelope.error {
        let code = match code {
            serde_json::Value::String(code) => code,
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        };
        let description = match envelope.error_description {
            Some(serde_json::Value::String(text)) => text,
            Some(serde_json::Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        return Ok(Err(ApiError::new(code.as_str(), description, http_status)));
    }
    if http_status >= 300 {
        return Ok(Err(ApiError::new(
            "",
            format!("HTTP {http_status} without an error code"),
            http_status,
        )));
    }
    let Some(result) = envelope.result else {
        return Err(Error::decode("the reply has no `result`", None));
    };
    Ok(Ok(RawResponse {
        result,
        total: envelope.total,
        next: envelope.next,
        time: envelope.time,
    }))
}

/// Decodes a whole reply body (as the portal sent it, with its HTTP status) into
/// [`Response<T>`], or the portal's error. Useful for replies obtained outside the client,
/// such as recorded fixtures.
///
/// # Errors
/// [`ErrorKind::Api`](crate::ErrorKind::Api) (or another kind from the code) for an error
/// reply, [`ErrorKind::Decode`](crate::ErrorKind::Decode) when the body is not an envelope or
/// its `result` does not fit `T`.
pub fn decode_reply<T: DeserializeOwned>(body: &[u8], http_status: u16) -> Result<Response<T>> {
    match parse_envelope(body, http_status)? {
        Ok(raw) => Ok(Response::new(
            decode_result(raw.result)?,
            raw.total,
            raw.next,
            raw.time,
        )),
        Err(api) => Err(Error::from_api(api)),
    }
}

/// Decodes a raw `result` into `T`, naming the JSON path of the first mismatch.
pub(crate) fn decode_result<T: DeserializeOwned>(raw: &RawValue) -> Result<T> {
    let mut deserializer = serde_json::Deserializer::from_str(raw.get());
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = format!(
            "result{}{}: {}",
            if path == "." { "" } else { "." },
            path.trim_start_matches('.'),
            redact_values(&inner.to_string())
        );
        Error::decode(message, None)
    })
}

/// Removes quoted values from a serde message: they may be a customer's phone or e-mail.
fn redact_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut in_quotes = false;
    for c in message.chars() {
        match c {
            '"' if !in_quotes => {
                in_quotes = true;
                out.push_str("\"…");
            }
            '"' => {
                in_quotes = false;
                out.push('"');
            }
            _ if in_quotes => {}
            _ => out.push(c),
        }
    }
    out
}

/// Lenient readers for numbers that arrive as numbers or as numeric strings.
pub(crate) mod lenient {
    use super::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Num {
        Int(i64),
        Uint(u64),
        Float(f64),
        Text(String),
        Null(()),
    }

    impl Num {
        fn as_f64(&self) -> Option<f64> {
            match self {
                #[allow(clippy::cast_precision_loss)]
                Self::Int(n) => Some(*n as f64),
                #[allow(clippy::cast_precision_loss)]
                Self::Uint(n) => Some(*n as f64),
                Self::Float(n) => Some(*n),
                Self::Text(text) => text.trim().parse().ok(),
                Self::Null(()) => None,
            }
        }

        fn as_i64(&self) -> Option<i64> {
            match self {
                Self::Int(n) => Some(*n),
                Self::Uint(n) => i64::try_from(*n).ok(),
                #[allow(clippy::cast_possible_truncation)]
                Self::Float(n) if n.is_finite() => Some(n.round() as i64),
                Self::Text(text) => text.trim().parse().ok(),
                _ => None,
            }
        }
    }

    pub(crate) fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Num::deserialize(d)?.as_f64().unwrap_or_default())
    }

    pub(crate) fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Ok(Num::deserialize(d)?.as_f64())
    }

    pub(crate) fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Ok(Num::deserialize(d)?.as_i64())
    }

    pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Ok(Num::deserialize(d)?
            .as_i64()
            .and_then(|n| u64::try_from(n).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn success_envelope_with_operating() {
        let body = br#"{"result":[{"ID":"1"}],"total":"120","next":50,"time":{"start":1724068028.331234,"finish":1724068028.726591,"duration":0.39535689353942871,"processing":0.35,"date_start":"2024-08-19T14:47:08+03:00","date_finish":"2024-08-19T14:47:08+03:00","operating":"3.1","operating_reset_at":1724068628}}"#;
        let raw = parse_envelope(body, 200).unwrap().unwrap();
        assert_eq!((raw.total, raw.next), (Some(120), Some(50)));
        let time = raw.time.unwrap();
        assert_eq!(time.operating, Some(3.1));
        assert_eq!(time.operating_reset_at, Some(1_724_068_628));
        let rows: Vec<serde_json::Value> = decode_result(raw.result).unwrap();
        assert_eq!(rows.len(), 1);
    }

    #[test]
    fn error_envelopes_keep_code_and_status() {
        let api = parse_envelope(br#"{"error":"","error_description":"Not found"}"#, 400)
            .unwrap()
            .unwrap_err();
        assert_eq!((api.code, api.http_status), (ErrorCode::Empty, 400));
        let api = parse_envelope(
            br#"{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}"#,
            503,
        )
        .unwrap()
        .unwrap_err();
        assert_eq!(api.code, ErrorCode::QueryLimitExceeded);
        let api = parse_envelope(br"<html>502 Bad Gateway</html>", 502)
            .unwrap()
            .unwrap_err();
        assert_eq!((api.code, api.http_status), (ErrorCode::Empty, 502));
        assert!(!api.description.contains("html"));
    }

    #[test]
    fn null_result_is_a_result() {
        let raw = parse_envelope(br#"{"result":null,"time":{}}"#, 200)
            .unwrap()
            .unwrap();
        let value: Option<u64> = decode_result(raw.result).unwrap();
        assert_eq!(value, None);
        assert!(
            parse_envelope(br#"{"time":{}}"#, 200)
                .unwrap_err()
                .is_decode()
        );
        assert!(parse_envelope(b"<html>", 200).unwrap_err().is_decode());
    }

    #[test]
    fn decode_errors_name_the_path_but_not_the_value() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Lead {
            #[serde(rename = "ID")]
            id: u64,
        }
        let raw = parse_envelope(br#"{"result":[{"ID":1},{"ID":"+7 999 123-45-67"}]}"#, 200)
            .unwrap()
            .unwrap();
        let error = decode_result::<Vec<Lead>>(raw.result).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("result.[1].ID") || text.contains("result[1].ID"),
            "{text}"
        );
        assert!(!text.contains("999"), "{text}");
    }
}
