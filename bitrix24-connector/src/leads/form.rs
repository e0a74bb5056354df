//! Parsing and validation of the website contact form posted to `POST /leads`.
//!
//! A submission arrives as JSON ([`LeadForm::from_json`]) or as `multipart/form-data`
//! ([`LeadForm::from_multipart`]); both end in the same checks and give either a clean
//! [`LeadForm`] or [`FormErrors`] listing every problem at once, so the visitor can fix the whole
//! form in one go. Nothing here does I/O besides reading the request body.
//!
//! # Fields
//!
//! | field | rule |
//! |---|---|
//! | `name` | required; trimmed; at most [`FormRules::max_name_chars`] characters |
//! | `phone` | normalized to E.164; numbers without `+` are national numbers of [`FormRules::default_region`] |
//! | `email` | pragmatic syntax check; trimmed, domain lowercased; international domains allowed |
//! | `message` | at most [`FormRules::max_message_chars`]; newlines and tabs kept |
//! | `utm_source`, `utm_medium`, `utm_campaign`, `utm_content`, `utm_term` | at most [`FormRules::max_utm_chars`] each |
//! | `page_url` | absolute `http`/`https` URL, at most [`FormRules::max_page_url_chars`] |
//! | [`FormRules::honeypot_field`] (`website`) | hidden from people; filled in means [`LeadForm::spam`] |
//! | `files[]`, `files`, `file` or `files[N]` | attachments, see [`detect_file_kind`] and the size limits in [`FormRules`] |
//!
//! At least one of `phone` and `email` is required (`no_contact`, reported on `phone`). Text
//! values are trimmed and lose control characters; blank values count as absent. Unknown fields
//! are ignored; when a field is repeated the last one wins. A spam submission is validated like
//! any other and only flagged, so the endpoint can answer it exactly like a real one.
//!
//! # JSON bodies
//!
//! One object with the field names above at its top level. Strings and numbers are accepted as
//! values (`"phone": 79991234567` works), `null` counts as absent, anything else is a
//! `malformed` error on that field. Attachments may come as
//! `"files": [{"name": "cv.pdf", "content_base64": "JVBERi0…"}]` (standard alphabet, padding
//! optional, a `data:…;base64,` prefix is tolerated) and go through the same checks as
//! multipart files. The honeypot counts as filled in unless it is `null`, `false` or blank.
//!
//! # Multipart bodies
//!
//! Files are read chunk by chunk and dropped as soon as they pass [`FormRules::max_file_bytes`],
//! and no more than [`FormRules::max_files`] files and about [`FormRules::max_total_file_bytes`]
//! are held in memory. Text fields are read up to a few times their character limit. The parts
//! a browser sends for an empty file input (no file name, no content) are ignored. Invalid UTF-8
//! in text fields is replaced with `U+FFFD` rather than refused.
//!
//! axum limits request bodies to 2 MB unless told otherwise: the route needs a
//! [`DefaultBodyLimit`](axum::extract::DefaultBodyLimit) above `max_total_file_bytes`, and a
//! body over that limit gives `body_too_large` on field `body`.
//!
//! # Storing a submission
//!
//! [`LeadForm`] implements `Serialize` and `Deserialize` for everything except
//! [`LeadForm::files`], which is skipped (and empty after deserializing): file contents are
//! stored separately, by the caller.
//!
//! # Example
//!
//! ```
//! use axum::{Json, extract::Multipart, http::StatusCode};
//! use bitrix24_connector::leads::form::{FormErrors, FormRules, LeadForm};
//!
//! async fn post_lead(multipart: Multipart) -> Result<StatusCode, (StatusCode, Json<FormErrors>)> {
//!     let form = LeadForm::from_multipart(multipart, &FormRules::default())
//!         .await
//!         .map_err(|errors| (StatusCode::UNPROCESSABLE_ENTITY, Json(errors)))?;
//!     if !form.spam {
//!         // store it, then create the lead
//!     }
//!     Ok(StatusCode::ACCEPTED)
//! }
//! ```

mod email;
mod errors;
mod file_kind;
mod json;
mod multipart;
mod phone;
mod text;

#[cfg(test)]
mod tests;

use std::fmt;

use bytes::Bytes;
use phonenumber::country;
use serde::{Deserialize, Serialize};

pub use errors::{FieldError, FormErrors, codes};
pub use file_kind::{FileKind, FileKindError, detect_file_kind, sanitize_file_name};

/// Limits and settings for [`LeadForm`] parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormRules {
    /// Country whose national numbering applies to phones typed without `+`; Russia by default.
    pub default_region: country::Id,
    /// Longest accepted name, in characters (not bytes); 100 by default.
    pub max_name_chars: usize,
    /// Longest accepted message, in characters; 5000 by default.
    pub max_message_chars: usize,
    /// Longest accepted value of each `utm_*` field, in characters; 255 by default.
    pub max_utm_chars: usize,
    /// Longest accepted `page_url`, in characters; 2048 by default.
    pub max_page_url_chars: usize,
    /// Largest accepted file, in bytes; 10 MiB by default.
    pub max_file_bytes: u64,
    /// Largest accepted size of all files together, in bytes; 25 MiB by default.
    pub max_total_file_bytes: u64,
    /// Most files accepted in one submission; 10 by default.
    pub max_files: usize,
    /// Name of the honeypot field: hidden by the page's CSS, so only bots fill it in;
    /// `website` by default.
    pub honeypot_field: String,
}

impl Default for FormRules {
    fn default() -> Self {
        Self {
            default_region: country::Id::RU,
            max_name_chars: 100,
            max_message_chars: 5000,
            max_utm_chars: 255,
            max_page_url_chars: 2048,
            max_file_bytes: 10 * 1024 * 1024,
            max_total_file_bytes: 25 * 1024 * 1024,
            max_files: 10,
            honeypot_field: "website".to_owned(),
        }
    }
}

/// A valid contact form submission.
///
/// Serializes without [`files`](Self::files) (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadForm {
    /// The visitor's name, trimmed, never empty.
    pub name: String,
    /// Phone number in E.164 form, such as `+79991234567`.
    pub phone: Option<String>,
    /// E-mail address, trimmed, its domain lowercased.
    pub email: Option<String>,
    /// The visitor's message; may span several lines.
    pub message: Option<String>,
    /// Campaign tags the page was opened with.
    #[serde(default)]
    pub utm: Utm,
    /// Absolute `http`/`https` URL of the page the form was sent from, normalized.
    pub page_url: Option<String>,
    /// The honeypot field was filled in: most likely a bot.
    #[serde(default)]
    pub spam: bool,
    /// Attachments, content-checked, in the order they were sent; not serialized.
    #[serde(skip)]
    pub files: Vec<FormFile>,
}

/// UTM tags of the page the form was sent from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Utm {
    /// `utm_source`.
    pub source: Option<String>,
    /// `utm_medium`.
    pub medium: Option<String>,
    /// `utm_campaign`.
    pub campaign: Option<String>,
    /// `utm_content`.
    pub content: Option<String>,
    /// `utm_term`.
    pub term: Option<String>,
}

/// An attachment that passed the type and size checks.
#[derive(Clone, PartialEq, Eq)]
pub struct FormFile {
    /// The file name as sent, made safe by [`sanitize_file_name`]: no path, no control
    /// characters, at most 255 bytes; its extension matches [`kind`](Self::kind).
    pub name: String,
    /// The type, recognised from the content.
    pub kind: FileKind,
    /// The content.
    pub bytes: Bytes,
}

impl fmt::Debug for FormFile {
    // The content can be megabytes; its length is what a log needs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FormFile")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl LeadForm {
    /// Parses and validates a JSON body (see the [module docs](self) for its shape).
    ///
    /// # Errors
    ///
    /// [`FormErrors`] with every invalid field, or a single `malformed` error on `body` when the
    /// body is not a JSON object.
    pub fn from_json(body: &[u8], rules: &FormRules) -> Result<LeadForm, FormErrors> {
        json::read(body, rules)?.validate(rules)
    }

    /// Reads and validates a `multipart/form-data` body.
    ///
    /// # Errors
    ///
    /// [`FormErrors`] with every invalid field, or a single error on `body`: `malformed` when
    /// the multipart stream is broken, `body_too_large` when it exceeds the route's body limit.
    pub async fn from_multipart(
        multipart: axum::extract::Multipart,
        rules: &FormRules,
    ) -> Result<LeadForm, FormErrors> {
        multipart::read(multipart, rules).await?.validate(rules)
    }
}

/// The form fields that carry text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextField {
    Name,
    Phone,
    Email,
    Message,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    UtmContent,
    UtmTerm,
    PageUrl,
}

impl TextField {
    const ALL: [Self; 10] = [
        Self::Name,
        Self::Phone,
        Self::Email,
        Self::Message,
        Self::UtmSource,
        Self::UtmMedium,
        Self::UtmCampaign,
        Self::UtmContent,
        Self::UtmTerm,
        Self::PageUrl,
    ];

    fn key(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Phone => "phone",
            Self::Email => "email",
            Self::Message => "message",
            Self::UtmSource => "utm_source",
            Self::UtmMedium => "utm_medium",
            Self::UtmCampaign => "utm_campaign",
            Self::UtmContent => "utm_content",
            Self::UtmTerm => "utm_term",
            Self::PageUrl => "page_url",
        }
    }

    fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|field| field.key() == key)
    }

    fn label(self) -> &'static str {
        match self {
            Self::Name => "Name",
            Self::Phone => "Phone",
            Self::Email => "E-mail",
            Self::Message => "Message",
            Self::PageUrl => "Page URL",
            utm => utm.key(),
        }
    }

    fn max_chars(self, rules: &FormRules) -> usize {
        match self {
            Self::Name => rules.max_name_chars,
            Self::Phone => phone::MAX_PHONE_CHARS,
            Self::Email => email::MAX_EMAIL_CHARS,
            Self::Message => rules.max_message_chars,
            Self::PageUrl => rules.max_page_url_chars,
            Self::UtmSource
            | Self::UtmMedium
            | Self::UtmCampaign
            | Self::UtmContent
            | Self::UtmTerm => rules.max_utm_chars,
        }
    }

    /// How many bytes of this field a multipart reader keeps before calling it too long.
    fn read_cap(self, rules: &FormRules) -> u64 {
        // Four bytes per character covers any UTF-8; the slack leaves room for whitespace and
        // control characters that cleaning removes before the characters are counted.
        let cap = self.max_chars(rules).saturating_mul(4).saturating_add(1024);
        u64::try_from(cap).unwrap_or(u64::MAX)
    }

    /// The error for a value over [`max_chars`](Self::max_chars): phone numbers and e-mail
    /// addresses have limits of their own format, so a long one is simply invalid.
    fn too_long(self, rules: &FormRules) -> FieldError {
        match self {
            Self::Phone => invalid_phone(),
            Self::Email => invalid_email(),
            _ => FieldError::new(
                self.key(),
                codes::TOO_LONG,
                format!(
                    "{} must be at most {} characters long.",
                    self.label(),
                    self.max_chars(rules)
                ),
            ),
        }
    }

    fn not_text(self) -> FieldError {
        FieldError::new(
            self.key(),
            codes::MALFORMED,
            format!("{} must be a string.", self.label()),
        )
    }
}

fn invalid_phone() -> FieldError {
    FieldError::new(
        "phone",
        codes::INVALID_PHONE,
        "Enter a valid phone number, for example +7 999 123-45-67.",
    )
}

fn invalid_email() -> FieldError {
    FieldError::new(
        "email",
        codes::INVALID_EMAIL,
        "Enter a valid e-mail address, for example name@example.com.",
    )
}

fn file_label(index: usize, file_name: &str) -> String {
    let name = sanitize_file_name(file_name);
    if name.is_empty() {
        format!("File {}", index + 1)
    } else {
        format!("\u{201C}{name}\u{201D}")
    }
}

fn file_too_large(index: usize, file_name: &str, rules: &FormRules) -> FieldError {
    FieldError::new(
        format!("files[{index}]"),
        codes::FILE_TOO_LARGE,
        format!(
            "{} is larger than {}.",
            file_label(index, file_name),
            human_size(rules.max_file_bytes)
        ),
    )
}

fn human_size(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    const KIB: u64 = 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// A text value as read from the body, before cleaning.
#[derive(Debug)]
enum RawText {
    Value(String),
    /// The multipart reader stopped reading it past its cap.
    TooLong,
    /// A JSON value that is neither a string nor a number.
    NotText,
}

#[derive(Debug)]
struct RawFile {
    /// Position among the non-empty file parts, for `files[N]`.
    index: usize,
    file_name: String,
    content: Result<Bytes, FieldError>,
}

/// A submission as read from the body, not validated yet; shared by the JSON and multipart
/// readers so that both apply exactly the same rules.
#[derive(Debug, Default)]
struct RawForm {
    text: [Option<RawText>; TextField::ALL.len()],
    spam: bool,
    files: Vec<RawFile>,
    /// An error about the `files` value as a whole (JSON only).
    files_error: Option<FieldError>,
    too_many_files: bool,
    /// The reader stopped keeping files because their total passed the limit.
    files_too_large: bool,
}

impl RawForm {
    fn set(&mut self, field: TextField, value: RawText) {
        self.text[field as usize] = Some(value);
    }

    /// The cleaned value of `field`: `Ok(None)` when absent or blank.
    fn text(&mut self, field: TextField, rules: &FormRules) -> Result<Option<String>, FieldError> {
        match self.text[field as usize].take() {
            None => Ok(None),
            Some(RawText::TooLong) => Err(field.too_long(rules)),
            Some(RawText::NotText) => Err(field.not_text()),
            Some(RawText::Value(value)) => {
                let value = text::clean(&value, field == TextField::Message);
                if value.is_empty() {
                    Ok(None)
                } else if value.chars().count() > field.max_chars(rules) {
                    Err(field.too_long(rules))
                } else {
                    Ok(Some(value))
                }
            }
        }
    }

    /// The cleaned value of an optional field; an error goes to `errors` and gives `None`.
    fn optional(
        &mut self,
        field: TextField,
        rules: &FormRules,
        errors: &mut Vec<FieldError>,
    ) -> Option<String> {
        self.text(field, rules).unwrap_or_else(|error| {
            errors.push(error);
            None
        })
    }

    fn validate(mut self, rules: &FormRules) -> Result<LeadForm, FormErrors> {
        let mut errors = Vec::new();

        let name = match self.text(TextField::Name, rules) {
            Ok(Some(name)) => name,
            Ok(None) => {
                errors.push(FieldError::new(
                    "name",
                    codes::REQUIRED,
                    "Please enter your name.",
                ));
                String::new()
            }
            Err(error) => {
                errors.push(error);
                String::new()
            }
        };

        // An invalid phone or e-mail still counts as given: the visitor tried, and "give a phone
        // or an e-mail" next to "invalid phone" would only confuse them.
        let mut contact_given = false;
        let phone = match self.text(TextField::Phone, rules) {
            Ok(None) => None,
            Ok(Some(raw)) => {
                contact_given = true;
                let e164 = phone::normalize_phone(&raw, rules.default_region);
                if e164.is_none() {
                    errors.push(invalid_phone());
                }
                e164
            }
            Err(error) => {
                contact_given = true;
                errors.push(error);
                None
            }
        };
        let email = match self.text(TextField::Email, rules) {
            Ok(None) => None,
            Ok(Some(raw)) => {
                contact_given = true;
                let normalized = email::normalize_email(&raw);
                if normalized.is_none() {
                    errors.push(invalid_email());
                }
                normalized
            }
            Err(error) => {
                contact_given = true;
                errors.push(error);
                None
            }
        };
        if !contact_given {
            errors.push(FieldError::new(
                "phone",
                codes::NO_CONTACT,
                "Please give a phone number or an e-mail address so we can reply.",
            ));
        }

        let message = self.optional(TextField::Message, rules, &mut errors);
        let utm = Utm {
            source: self.optional(TextField::UtmSource, rules, &mut errors),
            medium: self.optional(TextField::UtmMedium, rules, &mut errors),
            campaign: self.optional(TextField::UtmCampaign, rules, &mut errors),
            content: self.optional(TextField::UtmContent, rules, &mut errors),
            term: self.optional(TextField::UtmTerm, rules, &mut errors),
        };
        let page_url = self
            .optional(TextField::PageUrl, rules, &mut errors)
            .and_then(|raw| {
                let url = url::Url::parse(&raw).ok().filter(|url| {
                    matches!(url.scheme(), "http" | "https")
                        && url.host_str().is_some_and(|h| !h.is_empty())
                });
                if url.is_none() {
                    errors.push(FieldError::new(
                        "page_url",
                        codes::INVALID_URL,
                        "Page URL must be an absolute http or https address.",
                    ));
                }
                url.map(String::from)
            });

        let files = self.validate_files(rules, &mut errors);

        if !errors.is_empty() {
            return Err(FormErrors(errors));
        }
        Ok(LeadForm {
            name,
            phone,
            email,
            message,
            utm,
            page_url,
            spam: self.spam,
            files,
        })
    }

    fn validate_files(&mut self, rules: &FormRules, errors: &mut Vec<FieldError>) -> Vec<FormFile> {
        errors.extend(self.files_error.take());
        let mut files = Vec::with_capacity(self.files.len());
        let mut total: u64 = 0;
        for raw in std::mem::take(&mut self.files) {
            let bytes = match raw.content {
                Ok(bytes) => bytes,
                Err(error) => {
                    errors.push(error);
                    continue;
                }
            };
            total = total.saturating_add(u64::try_from(bytes.len()).unwrap_or(u64::MAX));
            let name = sanitize_file_name(&raw.file_name);
            match detect_file_kind(&name, &bytes) {
                Ok(kind) => files.push(FormFile { name, kind, bytes }),
                Err(error) => errors.push(FieldError::new(
                    format!("files[{}]", raw.index),
                    codes::FILE_TYPE,
                    format!("{}: {error}.", file_label(raw.index, &raw.file_name)),
                )),
            }
        }
        if self.too_many_files {
            errors.push(FieldError::new(
                "files",
                codes::TOO_MANY_FILES,
                format!("Attach at most {} files.", rules.max_files),
            ));
        }
        if self.files_too_large || total > rules.max_total_file_bytes {
            errors.push(FieldError::new(
                "files",
                codes::FILES_TOO_LARGE,
                format!(
                    "All files together must be at most {}.",
                    human_size(rules.max_total_file_bytes)
                ),
            ));
        }
        files
    }
}
