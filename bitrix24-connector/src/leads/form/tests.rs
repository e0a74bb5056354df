//! End-to-end tests of both readers through the shared validation.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart};
use axum::http::{Request, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::file_kind::samples;
use super::*;

fn from_json(body: &Value) -> Result<LeadForm, FormErrors> {
    LeadForm::from_json(body.to_string().as_bytes(), &FormRules::default())
}

/// The `(field, code)` pairs of an error, in order.
fn pairs(errors: &FormErrors) -> Vec<(&str, &str)> {
    errors
        .0
        .iter()
        .map(|e| (e.field.as_str(), e.code))
        .collect()
}

fn json_errors(body: &Value) -> Vec<(String, &'static str)> {
    let errors = from_json(body).expect_err("the form must be refused");
    errors.0.into_iter().map(|e| (e.field, e.code)).collect()
}

fn minimal() -> Value {
    json!({"name": "Ivan", "phone": "+79991234567"})
}

fn with(mut base: Value, key: &str, value: Value) -> Value {
    base[key] = value;
    base
}

// ---------------------------------------------------------------------------------------------
// JSON: text fields
// ---------------------------------------------------------------------------------------------

#[test]
fn json_full_form_is_normalized() {
    let form = from_json(&json!({
        "name": "  Иван Петров\n",
        "phone": "8 (999) 123-45-67",
        "email": " Ivan.Petrov@Example.COM ",
        "message": " Здравствуйте!\r\nПерезвоните, пожалуйста.\u{7} ",
        "utm_source": "yandex",
        "utm_medium": "cpc",
        "utm_campaign": "spring",
        "utm_content": "banner\t1",
        "utm_term": "окна пвх",
        "page_url": "https://example.com/contacts?x=1#form",
        "website": "",
    }))
    .unwrap();
    assert_eq!(
        form,
        LeadForm {
            name: "Иван Петров".into(),
            phone: Some("+79991234567".into()),
            email: Some("Ivan.Petrov@example.com".into()),
            message: Some("Здравствуйте!\nПерезвоните, пожалуйста.".into()),
            utm: Utm {
                source: Some("yandex".into()),
                medium: Some("cpc".into()),
                campaign: Some("spring".into()),
                content: Some("banner 1".into()),
                term: Some("окна пвх".into()),
            },
            page_url: Some("https://example.com/contacts?x=1#form".into()),
            spam: false,
            files: Vec::new(),
        }
    );
}

#[test]
fn name_is_required_and_trimmed() {
    assert_eq!(
        json_errors(&json!({"phone": "+79991234567"})),
        [("name".into(), "required")]
    );
    assert_eq!(
        json_errors(&with(minimal(), "name", json!(" \t\n "))),
        [("name".into(), "required")]
    );
    assert_eq!(
        json_errors(&with(minimal(), "name", json!(null))),
        [("name".into(), "required")]
    );
    assert_eq!(
        json_errors(&with(minimal(), "name", json!("\u{0}\u{1b}"))),
        [("name".into(), "required")]
    );
}

#[test]
fn name_length_counts_characters_not_bytes() {
    let hundred = "Я".repeat(100);
    assert_eq!(
        from_json(&with(minimal(), "name", json!(hundred)))
            .unwrap()
            .name,
        hundred
    );
    // Surrounding whitespace does not count.
    assert!(from_json(&with(minimal(), "name", json!(format!("  {hundred}  ")))).is_ok());
    let errors = from_json(&with(minimal(), "name", json!("Я".repeat(101)))).unwrap_err();
    assert_eq!(pairs(&errors), [("name", "too_long")]);
    assert_eq!(
        errors.0[0].message,
        "Name must be at most 100 characters long."
    );

    let rules = FormRules {
        max_name_chars: 3,
        ..FormRules::default()
    };
    let body = json!({"name": "Ivan", "email": "a@b.co"}).to_string();
    assert_eq!(
        pairs(&LeadForm::from_json(body.as_bytes(), &rules).unwrap_err()),
        [("name", "too_long")]
    );
}

#[test]
fn phone_is_normalized_to_e164() {
    for (input, expected) in [
        ("89991234567", "+79991234567"),
        ("8 (999) 123-45-67", "+79991234567"),
        ("+7 999 123 45 67", "+79991234567"),
        ("+7(999)123-45-67", "+79991234567"),
        ("+44 20 7946 0958", "+442079460958"),
    ] {
        let form = from_json(&with(minimal(), "phone", json!(input))).unwrap();
        assert_eq!(form.phone.as_deref(), Some(expected), "{input}");
    }
    // A number sent as a JSON number.
    let form = from_json(&with(minimal(), "phone", json!(89_991_234_567_u64))).unwrap();
    assert_eq!(form.phone.as_deref(), Some("+79991234567"));
}

#[test]
fn default_region_comes_from_the_rules() {
    let rules = FormRules {
        default_region: country::Id::US,
        ..FormRules::default()
    };
    let body = json!({"name": "John", "phone": "(415) 555-2671"}).to_string();
    let form = LeadForm::from_json(body.as_bytes(), &rules).unwrap();
    assert_eq!(form.phone.as_deref(), Some("+14155552671"));
}

#[test]
fn invalid_phone_is_reported() {
    for input in [
        "12345",
        "call me maybe",
        "+7 999",
        "8 (000) 000-00-00",
        "89991234567 ext 5",
    ] {
        assert_eq!(
            json_errors(&with(minimal(), "phone", json!(input))),
            [("phone".into(), "invalid_phone")],
            "{input}"
        );
    }
    let long = "1".repeat(200);
    assert_eq!(
        json_errors(&with(minimal(), "phone", json!(long))),
        [("phone".into(), "invalid_phone")]
    );
}

#[test]
fn email_is_checked_and_its_domain_lowercased() {
    let body = json!({"name": "Ivan", "email": "  Info@Пример.РФ "});
    let form = from_json(&body).unwrap();
    assert_eq!(form.email.as_deref(), Some("Info@пример.рф"));
    assert_eq!(form.phone, None);
    for input in [
        "ivan",
        "ivan@localhost",
        "iv an@example.com",
        "a@b@c.com",
        "ivan@exa_mple.com",
    ] {
        assert_eq!(
            json_errors(&json!({"name": "Ivan", "email": input})),
            [("email".into(), "invalid_email")],
            "{input}"
        );
    }
}

#[test]
fn a_phone_or_an_email_is_required() {
    assert_eq!(
        json_errors(&json!({"name": "Ivan"})),
        [("phone".into(), "no_contact")]
    );
    assert_eq!(
        json_errors(&json!({"name": "Ivan", "phone": " ", "email": ""})),
        [("phone".into(), "no_contact")]
    );
    assert!(from_json(&json!({"name": "Ivan", "email": "ivan@example.com"})).is_ok());
    assert!(from_json(&json!({"name": "Ivan", "phone": "89991234567"})).is_ok());
    let both =
        from_json(&json!({"name": "Ivan", "phone": "89991234567", "email": "i@ex.ru"})).unwrap();
    assert_eq!(
        (both.phone.as_deref(), both.email.as_deref()),
        (Some("+79991234567"), Some("i@ex.ru"))
    );
    // A contact that was given but is invalid is reported as invalid, not as missing.
    assert_eq!(
        json_errors(&json!({"name": "Ivan", "phone": "abc", "email": "nope"})),
        [
            ("phone".into(), "invalid_phone"),
            ("email".into(), "invalid_email")
        ]
    );
}

#[test]
fn message_keeps_lines_and_is_capped() {
    let form = from_json(&with(
        minimal(),
        "message",
        json!("\tline 1\r\nline 2\rline 3\u{0}\n"),
    ))
    .unwrap();
    assert_eq!(form.message.as_deref(), Some("line 1\nline 2\nline 3"));
    assert_eq!(
        from_json(&with(minimal(), "message", json!("  ")))
            .unwrap()
            .message,
        None
    );
    assert!(from_json(&with(minimal(), "message", json!("ж".repeat(5000)))).is_ok());
    assert_eq!(
        json_errors(&with(minimal(), "message", json!("ж".repeat(5001)))),
        [("message".into(), "too_long")]
    );
}

#[test]
fn utm_fields_are_cleaned_and_capped() {
    let form = from_json(&with(minimal(), "utm_campaign", json!(" spring\n2025 "))).unwrap();
    assert_eq!(
        form.utm,
        Utm {
            campaign: Some("spring 2025".into()),
            ..Utm::default()
        }
    );
    for key in [
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
        "utm_term",
    ] {
        assert_eq!(
            json_errors(&with(minimal(), key, json!("x".repeat(256)))),
            [(key.into(), "too_long")]
        );
    }
}

#[test]
fn page_url_must_be_http_or_https() {
    let form = from_json(&with(
        minimal(),
        "page_url",
        json!(" HTTPS://Example.COM/a b "),
    ))
    .unwrap();
    assert_eq!(form.page_url.as_deref(), Some("https://example.com/a%20b"));
    let form = from_json(&with(minimal(), "page_url", json!("http://сайт.рф/"))).unwrap();
    assert_eq!(
        form.page_url.as_deref(),
        Some("http://xn--80aswg.xn--p1ai/")
    );
    for input in [
        "/contacts",
        "example.com",
        "ftp://example.com/",
        "javascript:alert(1)",
        "http://",
        "mailto:a@b.c",
    ] {
        assert_eq!(
            json_errors(&with(minimal(), "page_url", json!(input))),
            [("page_url".into(), "invalid_url")],
            "{input}"
        );
    }
    let long = format!("https://example.com/{}", "a".repeat(2048));
    assert_eq!(
        json_errors(&with(minimal(), "page_url", json!(long))),
        [("page_url".into(), "too_long")]
    );
}

#[test]
fn all_errors_are_reported_together_in_form_order() {
    let errors = from_json(&json!({
        "name": "",
        "phone": "123",
        "email": "not-an-email",
        "message": "m".repeat(6000),
        "utm_source": "s".repeat(300),
        "page_url": "ftp://x.y",
        "files": [{"name": "a.exe", "content_base64": STANDARD.encode(samples::EXE)}],
    }))
    .unwrap_err();
    assert_eq!(
        pairs(&errors),
        [
            ("name", "required"),
            ("phone", "invalid_phone"),
            ("email", "invalid_email"),
            ("message", "too_long"),
            ("utm_source", "too_long"),
            ("page_url", "invalid_url"),
            ("files[0]", "file_type"),
        ]
    );
    assert!(errors.0.iter().all(|e| !e.message.is_empty()));
}

#[test]
fn malformed_json_is_one_body_error() {
    for body in [
        &b""[..],
        b"{",
        b"[]",
        b"\"name\"",
        b"null",
        b"{\"name\": \"x\",}",
        b"\xFF\xFE",
    ] {
        let errors = LeadForm::from_json(body, &FormRules::default()).unwrap_err();
        assert_eq!(pairs(&errors), [("body", "malformed")], "{body:?}");
        assert!(errors.is_body_error());
    }
}

#[test]
fn json_values_of_the_wrong_type() {
    assert_eq!(
        json_errors(&with(minimal(), "name", json!(true))),
        [("name".into(), "malformed")]
    );
    assert_eq!(
        json_errors(&json!({"name": "Ivan", "email": ["a@b.cd"]})),
        [("email".into(), "malformed")]
    );
    assert_eq!(
        json_errors(&with(minimal(), "utm_term", json!({"a": 1}))),
        [("utm_term".into(), "malformed")]
    );
    // null means absent.
    assert_eq!(
        from_json(&with(minimal(), "message", json!(null)))
            .unwrap()
            .message,
        None
    );
}

#[test]
fn unknown_fields_are_ignored() {
    let form = from_json(&json!({
        "name": "Ivan",
        "phone": "+79991234567",
        "comment": "x",
        "utm": {"source": "y"},
        "files[]": 1,
        "Name": 3,
    }))
    .unwrap();
    assert_eq!(form.name, "Ivan");
    assert_eq!(form.utm, Utm::default());
}

#[test]
fn honeypot_marks_spam_but_validation_still_runs() {
    let form = from_json(&with(minimal(), "website", json!("http://spam.example"))).unwrap();
    assert!(form.spam);
    assert_eq!(form.phone.as_deref(), Some("+79991234567"));
    for blank in [json!(""), json!("  "), json!(null), json!(false)] {
        assert!(
            !from_json(&with(minimal(), "website", blank.clone()))
                .unwrap()
                .spam,
            "{blank}"
        );
    }
    for filled in [json!(1), json!(true), json!(["x"])] {
        assert!(
            from_json(&with(minimal(), "website", filled.clone()))
                .unwrap()
                .spam,
            "{filled}"
        );
    }
    // A spam submission with invalid fields is refused like any other.
    assert_eq!(
        json_errors(&json!({"website": "x", "phone": "+79991234567"})),
        [("name".into(), "required")]
    );

    let rules = FormRules {
        honeypot_field: "fax".into(),
        ..FormRules::default()
    };
    let body =
        json!({"name": "Ivan", "phone": "+79991234567", "fax": "123", "website": "x"}).to_string();
    assert!(LeadForm::from_json(body.as_bytes(), &rules).unwrap().spam);
    let body = json!({"name": "Ivan", "phone": "+79991234567", "website": "x"}).to_string();
    assert!(!LeadForm::from_json(body.as_bytes(), &rules).unwrap().spam);
}

#[test]
fn serializes_without_files_and_reads_back() {
    let mut form = from_json(&json!({
        "name": "Ivan",
        "email": "i@example.com",
        "utm_source": "google",
        "files": [{"name": "a.pdf", "content_base64": STANDARD.encode(samples::PDF)}],
    }))
    .unwrap();
    assert_eq!(form.files.len(), 1);
    let stored = serde_json::to_value(&form).unwrap();
    assert_eq!(
        stored,
        json!({
            "name": "Ivan",
            "phone": null,
            "email": "i@example.com",
            "message": null,
            "utm": {"source": "google", "medium": null, "campaign": null, "content": null, "term": null},
            "page_url": null,
            "spam": false,
        })
    );
    let back: LeadForm = serde_json::from_value(stored).unwrap();
    form.files.clear();
    assert_eq!(back, form);
    // Older records without utm or spam still load.
    let old: LeadForm =
        serde_json::from_value(json!({"name": "A", "phone": "+79991234567"})).unwrap();
    assert_eq!((old.utm, old.spam), (Utm::default(), false));
}

// ---------------------------------------------------------------------------------------------
// JSON: files
// ---------------------------------------------------------------------------------------------

fn json_file(name: &str, bytes: &[u8]) -> Value {
    json!({"name": name, "content_base64": STANDARD.encode(bytes)})
}

#[test]
fn json_files_are_decoded_and_checked() {
    let form = from_json(&with(
        minimal(),
        "files",
        json!([
            json_file("../offer.pdf", samples::PDF),
            json!({"name": "photo.png", "content_base64": format!("data:image/png;base64,{}", STANDARD.encode(samples::PNG))}),
            json!({"name": "notes.txt", "content_base64": base64::engine::general_purpose::STANDARD_NO_PAD.encode(b"hi")}),
            json!({"name": "", "content_base64": ""}),
        ]),
    ))
    .unwrap();
    let summary: Vec<_> = form
        .files
        .iter()
        .map(|f| (f.name.as_str(), f.kind, f.bytes.len()))
        .collect();
    assert_eq!(
        summary,
        [
            ("offer.pdf", FileKind::Pdf, samples::PDF.len()),
            ("photo.png", FileKind::Png, samples::PNG.len()),
            ("notes.txt", FileKind::Txt, 2),
        ]
    );
    assert_eq!(form.files[0].bytes, samples::PDF);
}

#[test]
fn json_file_errors() {
    let errors = from_json(&with(
        minimal(),
        "files",
        json!([
            json_file("photo.pdf", samples::PNG),
            json!({"name": "a.pdf", "content_base64": "%%% not base64 %%%"}),
            json!({"name": "b.pdf"}),
            json!({"name": "c.pdf", "content_base64": 5}),
        ]),
    ))
    .unwrap_err();
    assert_eq!(
        pairs(&errors),
        [
            ("files[0]", "file_type"),
            ("files[1]", "malformed"),
            ("files[2]", "malformed"),
            ("files[3]", "malformed")
        ]
    );
    assert_eq!(
        errors.0[0].message,
        "\u{201C}photo.pdf\u{201D}: the content is not a .pdf file (it is a PNG image)."
    );
    assert_eq!(
        json_errors(&with(minimal(), "files", json!("x"))),
        [("files".into(), "malformed")]
    );
    assert!(from_json(&with(minimal(), "files", json!(null))).is_ok());
    assert!(from_json(&with(minimal(), "files", json!([]))).is_ok());
}

#[test]
fn json_file_limits() {
    let rules = FormRules {
        max_file_bytes: 64,
        max_total_file_bytes: 100,
        max_files: 2,
        ..FormRules::default()
    };
    let parse = |files: Value| {
        let body = with(minimal(), "files", files).to_string();
        LeadForm::from_json(body.as_bytes(), &rules)
    };
    let text = |len: usize| "t".repeat(len).into_bytes();

    assert_eq!(
        parse(json!([json_file("a.txt", &text(64))]))
            .unwrap()
            .files
            .len(),
        1
    );
    let errors = parse(json!([json_file("a.txt", &text(65))])).unwrap_err();
    assert_eq!(pairs(&errors), [("files[0]", "file_too_large")]);
    assert_eq!(
        errors.0[0].message,
        "\u{201C}a.txt\u{201D} is larger than 64 bytes."
    );
    // MIME-style line breaks in the base64 do not count towards the size.
    let encoded = STANDARD.encode(text(64));
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(8)
        .map(|line| std::str::from_utf8(line).unwrap())
        .collect();
    let wrapped = lines.join("\r\n");
    let form = parse(json!([{"name": "w.txt", "content_base64": wrapped}])).unwrap();
    assert_eq!(form.files[0].bytes.len(), 64);
    // Far too large is refused before decoding.
    assert_eq!(
        pairs(&parse(json!([json_file("a.txt", &text(10_000))])).unwrap_err()),
        [("files[0]", "file_too_large")]
    );
    assert_eq!(
        pairs(
            &parse(json!([
                json_file("a.txt", &text(60)),
                json_file("b.txt", &text(60))
            ]))
            .unwrap_err()
        ),
        [("files", "files_too_large")]
    );
    assert_eq!(
        pairs(
            &parse(json!([
                json_file("a.txt", b"1"),
                json_file("b.txt", b"2"),
                json_file("c.txt", b"3")
            ]))
            .unwrap_err()
        ),
        [("files", "too_many_files")]
    );
}

// ---------------------------------------------------------------------------------------------
// Multipart
// ---------------------------------------------------------------------------------------------

const BOUNDARY: &str = "----b24FormBoundary7MA4YWxkTrZu0gW";

/// A hand-written `multipart/form-data` body.
#[derive(Default)]
struct Form(Vec<u8>);

impl Form {
    fn text(mut self, name: &str, value: &str) -> Self {
        self.0.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
        self
    }

    fn file(mut self, field: &str, file_name: &str, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        self.0.extend_from_slice(bytes);
        self.0.extend_from_slice(b"\r\n");
        self
    }

    fn contact(self) -> Self {
        self.text("name", "Ivan").text("phone", "89991234567")
    }

    fn end(mut self) -> Vec<u8> {
        self.0
            .extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        self.0
    }
}

async fn extract(body: Vec<u8>) -> Multipart {
    let request = Request::builder()
        .method("POST")
        .uri("/leads")
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from(body))
        .unwrap();
    Multipart::from_request(request, &()).await.unwrap()
}

async fn from_multipart_with(body: Vec<u8>, rules: &FormRules) -> Result<LeadForm, FormErrors> {
    LeadForm::from_multipart(extract(body).await, rules).await
}

async fn from_multipart(body: Vec<u8>) -> Result<LeadForm, FormErrors> {
    from_multipart_with(body, &FormRules::default()).await
}

#[tokio::test]
async fn multipart_full_form() {
    let body = Form::default()
        .text("name", " Иван ")
        .text("phone", "+7 (999) 123-45-67")
        .text("email", "IVAN@MAIL.RU")
        .text("message", "Hello,\r\nworld")
        .text("utm_source", "vk")
        .text("utm_medium", "social")
        .text("utm_campaign", "c1")
        .text("utm_content", "post")
        .text("utm_term", "t")
        .text("page_url", "https://example.com/")
        .text("website", "")
        .text("agree", "on")
        .file("files[]", r"C:\fakepath\Резюме.docx", &samples::docx())
        .file("files[]", "prices.xlsx", &samples::xlsx())
        .file("files[]", "letter.doc", &samples::ole2())
        .file("files[]", "table.xls", &samples::ole2())
        .file("files[]", "scan.jpeg", samples::JPEG)
        .file("files[]", "logo.gif", samples::GIF89)
        .end();
    let form = from_multipart(body).await.unwrap();
    assert_eq!(form.name, "Иван");
    assert_eq!(form.phone.as_deref(), Some("+79991234567"));
    assert_eq!(form.email.as_deref(), Some("IVAN@mail.ru"));
    assert_eq!(form.message.as_deref(), Some("Hello,\nworld"));
    assert_eq!(
        form.utm,
        Utm {
            source: Some("vk".into()),
            medium: Some("social".into()),
            campaign: Some("c1".into()),
            content: Some("post".into()),
            term: Some("t".into()),
        }
    );
    assert_eq!(form.page_url.as_deref(), Some("https://example.com/"));
    assert!(!form.spam);
    let files: Vec<_> = form
        .files
        .iter()
        .map(|f| (f.name.as_str(), f.kind))
        .collect();
    assert_eq!(
        files,
        [
            ("Резюме.docx", FileKind::Docx),
            ("prices.xlsx", FileKind::Xlsx),
            ("letter.doc", FileKind::Doc),
            ("table.xls", FileKind::Xls),
            ("scan.jpeg", FileKind::Jpeg),
            ("logo.gif", FileKind::Gif),
        ]
    );
    assert_eq!(form.files[0].bytes, samples::docx());
    assert!(format!("{:?}", form.files[0]).contains("len"));
}

#[tokio::test]
async fn multipart_accepts_files_file_and_files_brackets() {
    let body = Form::default()
        .contact()
        .file("file", "a.pdf", samples::PDF)
        .file("files", "b.png", samples::PNG)
        .file("files[]", "c.txt", samples::TEXT)
        .file("files[3]", "d.gif", samples::GIF87)
        .file("attachment", "ignored.pdf", samples::EXE)
        .file("files[x]", "ignored.pdf", samples::EXE)
        .file("file[]", "ignored.pdf", samples::EXE)
        .end();
    let form = from_multipart(body).await.unwrap();
    let kinds: Vec<_> = form.files.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [FileKind::Pdf, FileKind::Png, FileKind::Txt, FileKind::Gif]
    );
}

#[tokio::test]
async fn multipart_empty_file_inputs_are_ignored() {
    let body = Form::default()
        .contact()
        .file("files[]", "", b"")
        .file("file", "", b"")
        .end();
    let form = from_multipart(body).await.unwrap();
    assert!(form.files.is_empty());
    // The placeholders do not use up the file count either.
    let rules = FormRules {
        max_files: 1,
        ..FormRules::default()
    };
    let body = Form::default()
        .contact()
        .file("files[]", "", b"")
        .file("files[]", "a.pdf", samples::PDF)
        .file("files[]", "", b"")
        .end();
    assert_eq!(
        from_multipart_with(body, &rules).await.unwrap().files.len(),
        1
    );
}

#[tokio::test]
async fn multipart_file_type_must_match_the_content() {
    let body = Form::default()
        .contact()
        .file("files[]", "ok.pdf", samples::PDF)
        .file("files[]", "photo.pdf", samples::PNG)
        .file("files[]", "setup.pdf", samples::EXE)
        .file("files[]", "setup.exe", samples::EXE)
        .file("files[]", "noext", samples::TEXT)
        .file("files[]", "", samples::PDF)
        .end();
    let errors = from_multipart(body).await.unwrap_err();
    assert_eq!(
        pairs(&errors),
        [
            ("files[1]", "file_type"),
            ("files[2]", "file_type"),
            ("files[3]", "file_type"),
            ("files[4]", "file_type"),
            ("files[5]", "file_type")
        ]
    );
    assert_eq!(errors.0[4].message.split(':').next(), Some("File 6"));
}

#[tokio::test]
async fn multipart_oversized_file_is_reported_and_the_rest_still_read() {
    let rules = FormRules {
        max_file_bytes: 64,
        ..FormRules::default()
    };
    let body = Form::default()
        .text("name", "Ivan")
        .file("files[]", "big.txt", &[b'x'; 65])
        .file("files[]", "exact.txt", &[b'y'; 64])
        .text("email", "bad")
        .end();
    let errors = from_multipart_with(body, &rules).await.unwrap_err();
    assert_eq!(
        pairs(&errors),
        [("email", "invalid_email"), ("files[0]", "file_too_large")]
    );
    assert_eq!(
        errors.0[1].message,
        "\u{201C}big.txt\u{201D} is larger than 64 bytes."
    );

    let body = Form::default()
        .contact()
        .file("files[]", "exact.txt", &[b'y'; 64])
        .end();
    assert_eq!(
        from_multipart_with(body, &rules).await.unwrap().files[0]
            .bytes
            .len(),
        64
    );
}

#[tokio::test]
async fn multipart_total_size_and_count_limits() {
    let rules = FormRules {
        max_total_file_bytes: 100,
        max_files: 3,
        ..FormRules::default()
    };
    let body = Form::default()
        .contact()
        .file("files[]", "a.txt", &[b'a'; 50])
        .file("files[]", "b.txt", &[b'b'; 50])
        .end();
    assert_eq!(
        from_multipart_with(body, &rules).await.unwrap().files.len(),
        2
    );

    let body = Form::default()
        .contact()
        .file("files[]", "a.txt", &[b'a'; 50])
        .file("files[]", "b.txt", &[b'b'; 51])
        .end();
    assert_eq!(
        pairs(&from_multipart_with(body, &rules).await.unwrap_err()),
        [("files", "files_too_large")]
    );

    // Once past the total, later files are not kept at all, even when individually fine.
    let body = Form::default()
        .contact()
        .file("files[]", "a.txt", &[b'a'; 60])
        .file("files[]", "b.txt", &[b'b'; 60])
        .file("files[]", "c.txt", &[b'c'; 1])
        .end();
    assert_eq!(
        pairs(&from_multipart_with(body, &rules).await.unwrap_err()),
        [("files", "files_too_large")]
    );

    let body = Form::default()
        .contact()
        .file("files[]", "a.txt", b"1")
        .file("files[]", "b.txt", b"2")
        .file("files[]", "c.txt", b"3")
        .file("files[]", "d.txt", b"4")
        .end();
    let errors = from_multipart_with(body, &rules).await.unwrap_err();
    assert_eq!(pairs(&errors), [("files", "too_many_files")]);
    assert_eq!(errors.0[0].message, "Attach at most 3 files.");
}

#[tokio::test]
async fn multipart_text_past_the_read_cap_is_too_long() {
    let rules = FormRules::default();
    let huge = "m".repeat(usize::try_from(TextField::Message.read_cap(&rules)).unwrap() + 1);
    let body = Form::default().contact().text("message", &huge).end();
    assert_eq!(
        pairs(&from_multipart(body).await.unwrap_err()),
        [("message", "too_long")]
    );

    let body = Form::default()
        .text("name", "Ivan")
        .text("phone", &"9".repeat(2000))
        .end();
    assert_eq!(
        pairs(&from_multipart(body).await.unwrap_err()),
        [("phone", "invalid_phone")]
    );
}

#[tokio::test]
async fn multipart_honeypot_and_unknown_fields() {
    let body = Form::default()
        .contact()
        .text("website", "http://buy.example")
        .text("x", "y")
        .end();
    let form = from_multipart(body).await.unwrap();
    assert!(form.spam);
    assert_eq!(form.name, "Ivan");

    let long_honeypot = "s".repeat(5000);
    let body = Form::default()
        .contact()
        .text("website", &long_honeypot)
        .end();
    assert!(from_multipart(body).await.unwrap().spam);

    let body = Form::default().contact().text("website", "  ").end();
    assert!(!from_multipart(body).await.unwrap().spam);
}

#[tokio::test]
async fn multipart_collects_every_error() {
    let body = Form::default()
        .text("email", "x@y")
        .text("page_url", "not a url")
        .file("files[]", "a.gif", samples::JPEG)
        .end();
    assert_eq!(
        pairs(&from_multipart(body).await.unwrap_err()),
        [
            ("name", "required"),
            ("email", "invalid_email"),
            ("page_url", "invalid_url"),
            ("files[0]", "file_type")
        ]
    );
    let body = Form::default().text("name", "Ivan").end();
    assert_eq!(
        pairs(&from_multipart(body).await.unwrap_err()),
        [("phone", "no_contact")]
    );
}

#[tokio::test]
async fn broken_multipart_is_one_body_error() {
    // Cut off in the middle of a part: no closing boundary.
    let mut body = Form::default()
        .contact()
        .file("files[]", "a.pdf", samples::PDF)
        .0;
    body.truncate(body.len() - 10);
    let errors = from_multipart(body).await.unwrap_err();
    assert_eq!(pairs(&errors), [("body", "malformed")]);

    // Part headers that are not headers.
    let body = format!("--{BOUNDARY}\r\nthis is not a header line\r\n\r\nx\r\n--{BOUNDARY}--\r\n")
        .into_bytes();
    assert_eq!(
        pairs(&from_multipart(body).await.unwrap_err()),
        [("body", "malformed")]
    );
}

#[tokio::test]
async fn body_over_the_server_limit_is_body_too_large() {
    // No DefaultBodyLimit layer: axum's 2 MB default applies.
    let body = Form::default()
        .contact()
        .file("files[]", "big.txt", &vec![b'x'; 3 * 1024 * 1024])
        .end();
    let errors = from_multipart(body).await.unwrap_err();
    assert_eq!(pairs(&errors), [("body", "body_too_large")]);
}
