//! Validation errors: one [`FieldError`] per problem, all of them gathered in [`FormErrors`].

use std::fmt;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

/// Machine-readable error codes carried in [`FieldError::code`].
///
/// They are part of the endpoint's contract with the website's JavaScript, so they never change
/// meaning; new ones may be added.
pub mod codes {
    /// A required field (the name) is missing or blank.
    pub const REQUIRED: &str = "required";
    /// A text field is longer than [`FormRules`](super::super::FormRules) allows.
    pub const TOO_LONG: &str = "too_long";
    /// The phone number cannot be read as a valid number.
    pub const INVALID_PHONE: &str = "invalid_phone";
    /// The e-mail address is not syntactically valid.
    pub const INVALID_EMAIL: &str = "invalid_email";
    /// `page_url` is not an absolute `http` or `https` URL.
    pub const INVALID_URL: &str = "invalid_url";
    /// Neither a phone number nor an e-mail address was given (reported on field `phone`).
    pub const NO_CONTACT: &str = "no_contact";
    /// A file is not one of the accepted types, or its content does not match its extension.
    pub const FILE_TYPE: &str = "file_type";
    /// One file is larger than `max_file_bytes`.
    pub const FILE_TOO_LARGE: &str = "file_too_large";
    /// All files together are larger than `max_total_file_bytes` (reported on field `files`).
    pub const FILES_TOO_LARGE: &str = "files_too_large";
    /// More files than `max_files` (reported on field `files`).
    pub const TOO_MANY_FILES: &str = "too_many_files";
    /// The body (field `body`) or one value in it cannot be read at all.
    pub const MALFORMED: &str = "malformed";
    /// The body is larger than the server's request body limit (field `body`); answer 413.
    pub const BODY_TOO_LARGE: &str = "body_too_large";
}

/// One problem with one field of the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// The form field at fault: `name`, `phone`, …, `files` for limits on all files together,
    /// `files[N]` for the N-th non-empty file part (counting from 0), `body` for the whole body.
    pub field: String,
    /// A stable machine-readable code, one of [`codes`].
    pub code: &'static str,
    /// A human-readable English explanation, fit to show next to the field.
    pub message: String,
}

impl FieldError {
    /// Creates an error for `field`.
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.field, self.message, self.code)
    }
}

impl std::error::Error for FieldError {}

/// Every problem found in a submission, in form order.
///
/// Serializes as `{"error":"validation_failed","fields":[{"field":…,"code":…,"message":…}]}`,
/// the body the endpoint answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormErrors(pub Vec<FieldError>);

impl FormErrors {
    /// The errors, in form order.
    pub fn fields(&self) -> &[FieldError] {
        &self.0
    }

    /// Whether the body could not be read at all (`malformed` or `body_too_large` on `body`),
    /// as opposed to a readable form with invalid values.
    pub fn is_body_error(&self) -> bool {
        self.0.iter().any(|e| e.field == "body")
    }

    pub(super) fn body(code: &'static str, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new("body", code, message)])
    }
}

impl fmt::Display for FormErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("validation failed")?;
        for (i, error) in self.0.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            fmt::Display::fmt(error, f)?;
        }
        Ok(())
    }
}

impl std::error::Error for FormErrors {}

impl Serialize for FormErrors {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut body = serializer.serialize_struct("FormErrors", 2)?;
        body.serialize_field("error", "validation_failed")?;
        body.serialize_field("fields", &self.0)?;
        body.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_the_endpoint_body() {
        let errors = FormErrors(vec![
            FieldError::new("name", codes::REQUIRED, "Name is required"),
            FieldError::new("phone", codes::NO_CONTACT, "Give a phone or an e-mail"),
        ]);
        let json = serde_json::to_value(&errors).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "error": "validation_failed",
                "fields": [
                    {"field": "name", "code": "required", "message": "Name is required"},
                    {"field": "phone", "code": "no_contact", "message": "Give a phone or an e-mail"},
                ]
            })
        );
    }

    #[test]
    fn display_lists_every_error() {
        let errors = FormErrors(vec![
            FieldError::new("name", codes::REQUIRED, "Name is required"),
            FieldError::new("email", codes::INVALID_EMAIL, "Bad e-mail"),
        ]);
        assert_eq!(
            errors.to_string(),
            "validation failed: name: Name is required (required); email: Bad e-mail (invalid_email)"
        );
        assert!(!errors.is_body_error());
        assert!(FormErrors::body(codes::MALFORMED, "x").is_body_error());
    }
}
