//! The demo's lead-intake part: a website's contact form reaches the CRM exactly once, through
//! a double click and a lost reply.
//!
//! The intake runs in-process on loopback against the demo's sandbox portal, with its SQLite
//! database and received files in a temporary directory; the forms are posted over HTTP the way
//! a browser posts them.

use std::fmt::Write as _;
use std::time::Duration;

use bitrix24::Client;
use bitrix24::sandbox::{Fault, FaultKind, SandboxPortal};
use bitrix24_connector::leads::{IDEMPOTENCY_KEY, IntakeSettings, LeadIntake};
use bitrix24_connector::store::Store;
use reqwest::header::{ACCESS_CONTROL_ALLOW_ORIGIN, ORIGIN};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::DemoResult;

/// The site the forms are posted from; CORS allows it.
const SITE: &str = "https://shop.example.com";

/// How to reach the running intake.
#[derive(Clone)]
pub(crate) struct Intake {
    base: String,
    http: reqwest::Client,
    /// The Disk folder that receives attachments.
    folder: String,
}

/// What keeps the intake running; [`Running::shutdown`] stops it.
pub(crate) struct Running {
    stop: oneshot::Sender<()>,
    served: JoinHandle<std::io::Result<()>>,
    // Dropped last: the database and the files live here until the intake has stopped.
    _dir: tempfile::TempDir,
}

impl Running {
    /// Stops the server and the worker and waits for both.
    pub(crate) async fn shutdown(self) -> DemoResult<()> {
        let _ = self.stop.send(());
        self.served.await??;
        Ok(())
    }
}

/// Starts a lead intake on `127.0.0.1:0` delivering through `client`.
pub(crate) async fn start(client: Client) -> DemoResult<(Intake, Running)> {
    let dir = tempfile::tempdir()?;
    let mut settings = IntakeSettings::default();
    settings.files_dir = dir.path().join("files");
    settings.cors_origins = vec![SITE.to_owned()];
    // The default first retry waits a second; a quarter of that keeps the demo quick without
    // changing what happens.
    settings.delivery.backoff_base = Duration::from_millis(250);
    let folder = settings.disk_folder.clone();
    let store = Store::open(dir.path().join("connector.db")).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(
        LeadIntake::new(client, store, settings).serve(listener, async {
            let _ = stopped.await;
        }),
    );
    let intake = Intake {
        base,
        http: reqwest::Client::new(),
        folder,
    };
    Ok((
        intake,
        Running {
            stop,
            served,
            _dir: dir,
        },
    ))
}

/// One `POST /leads` reply.
struct Posted {
    status: u16,
    body: Value,
    replayed: bool,
    cors: Option<String>,
}

impl Posted {
    fn id(&self) -> DemoResult<String> {
        match (self.status, self.body["id"].as_str()) {
            (202, Some(id)) => Ok(id.to_owned()),
            _ => Err(format!("POST /leads answered {} {}", self.status, self.body).into()),
        }
    }
}

impl Intake {
    /// Posts a form as a browser on [`SITE`] does: multipart, with an idempotency key made when
    /// the page was rendered.
    async fn post(&self, form: Form, key: &str) -> DemoResult<Posted> {
        let response = self
            .http
            .post(format!("{}/leads", self.base))
            .header(ORIGIN, SITE)
            .header(IDEMPOTENCY_KEY, key)
            .multipart(form)
            .send()
            .await?;
        let status = response.status().as_u16();
        let replayed = response.headers().contains_key("idempotent-replayed");
        let cors = response
            .headers()
            .get(ACCESS_CONTROL_ALLOW_ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.json().await.unwrap_or(Value::Null);
        Ok(Posted {
            status,
            body,
            replayed,
            cors,
        })
    }

    /// Polls `GET /leads/{id}` until the submission leaves `pending`; an error unless delivered.
    async fn delivered(&self, id: &str) -> DemoResult<Value> {
        let url = format!("{}/leads/{id}", self.base);
        for _ in 0..300 {
            let status: Value = self.http.get(&url).send().await?.json().await?;
            match status["state"].as_str() {
                Some("delivered") => return Ok(status),
                Some("pending") => tokio::time::sleep(Duration::from_millis(50)).await,
                _ => return Err(format!("submission {id} was not delivered: {status}").into()),
            }
        }
        Err(format!("submission {id} still pending after 15 s").into())
    }
}

/// A one-page PDF with a valid cross-reference table, as a scanned estimate would be.
fn tiny_pdf() -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ];
    // ASCII throughout, so string lengths are the byte offsets the xref table needs; writing
    // to a String cannot fail.
    let mut pdf = String::from("%PDF-1.4\n");
    let mut offsets = Vec::with_capacity(objects.len());
    for (n, object) in (1..).zip(&objects) {
        offsets.push(pdf.len());
        let _ = write!(pdf, "{n} 0 obj\n{object}\nendobj\n");
    }
    let xref = pdf.len();
    let count = objects.len() + 1;
    let _ = write!(pdf, "xref\n0 {count}\n0000000000 65535 f \n");
    for offset in offsets {
        let _ = writeln!(pdf, "{offset:010} 00000 n ");
    }
    let _ = write!(
        pdf,
        "trailer\n<< /Size {count} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    );
    pdf.into_bytes()
}

/// The leads the portal holds for a submission (`ORIGIN_ID` = its id), read from the sandbox's
/// own state: the truth, and no request spent on the portal's rate limit.
fn crm_leads(portal: &SandboxPortal, submission: &str) -> Vec<Value> {
    portal
        .crm_rows("lead")
        .into_iter()
        .filter(|lead| {
            lead["ORIGIN_ID"].as_str() == Some(submission)
                && lead["ORIGINATOR_ID"].as_str() == Some("bitrix24-connector")
        })
        .collect()
}

/// The names of the files in the submission's own Disk folder.
async fn disk_files(client: &Client, folder: &str, submission: &str) -> DemoResult<Vec<String>> {
    let mut parent: Value = client
        .call_raw::<Vec<Value>>(
            "disk.storage.getlist",
            json!({ "filter": { "ENTITY_TYPE": "common" } }),
        )
        .idempotent(true)
        .await?
        .first()
        .map(|storage| storage["ROOT_OBJECT_ID"].clone())
        .ok_or("the portal has no common storage")?;
    for name in [folder, submission] {
        let children: Vec<Value> = client
            .call_raw(
                "disk.folder.getchildren",
                json!({ "id": parent, "filter": { "NAME": name } }),
            )
            .idempotent(true)
            .await?;
        parent = children
            .first()
            .map(|child| child["ID"].clone())
            .ok_or_else(|| format!("no Disk folder {name:?}"))?;
    }
    let files: Vec<Value> = client
        .call_raw("disk.folder.getchildren", json!({ "id": parent }))
        .idempotent(true)
        .await?;
    Ok(files
        .iter()
        .filter_map(|f| f["NAME"].as_str().map(str::to_owned))
        .collect())
}

/// The timeline comment that carries the submission's files (it quotes the submission id).
async fn files_comment(client: &Client, lead_id: u64, submission: &str) -> DemoResult<String> {
    let comments: Vec<Value> = client
        .call_raw(
            "crm.timeline.comment.list",
            json!({
                "filter": { "ENTITY_TYPE": "lead", "ENTITY_ID": lead_id },
                "select": ["ID", "COMMENT"],
            }),
        )
        .idempotent(true)
        .await?;
    comments
        .into_iter()
        .find(|c| {
            c["COMMENT"]
                .as_str()
                .is_some_and(|t| t.contains(submission))
        })
        .map(|c| {
            c["ID"]
                .as_str()
                .map_or_else(|| c["ID"].to_string(), str::to_owned)
        })
        .ok_or_else(|| format!("lead {lead_id} has no comment with the files").into())
}

/// How long delivery took after the submission was received, from `GET /leads/{id}`.
fn delivery_ms(status: &Value) -> i64 {
    status["delivered_at"].as_i64().unwrap_or(0) - status["received_at"].as_i64().unwrap_or(0)
}

fn phone(lead: &Value) -> &str {
    lead["PHONE"][0]["VALUE"].as_str().unwrap_or("?")
}

/// A customer's form with a PDF, posted twice with one idempotency key.
pub(crate) async fn posted_twice(
    client: Client,
    portal: &SandboxPortal,
    intake: Intake,
) -> DemoResult<String> {
    let pdf = tiny_pdf();
    let form = || -> DemoResult<Form> {
        Ok(Form::new()
            .text("name", "Анна Смирнова")
            .text("phone", "8 (999) 123-45-67")
            .text("email", "anna@example.com")
            .text("message", "Нужна смета на ремонт офиса, план во вложении")
            .text("utm_source", "yandex")
            .text("page_url", format!("{SITE}/contacts"))
            // The honeypot a person never sees, left empty as people leave it.
            .text("website", "")
            .part(
                "files[]",
                Part::bytes(pdf.clone())
                    .file_name("смета.pdf")
                    .mime_str("application/pdf")?,
            ))
    };
    println!(
        "   lead intake on {} (SQLite and received files in a temp dir) -> the sandbox portal",
        intake.base
    );
    println!("   the customer sends the form on {SITE}/contacts:");
    println!("     name Анна Смирнова, phone 8 (999) 123-45-67, e-mail anna@example.com");
    println!("     message \"Нужна смета на ремонт офиса, план во вложении\", utm_source yandex");
    println!("     file смета.pdf ({} bytes, application/pdf)", pdf.len());
    let key = "form-7f3a9c2e-1";
    let first = intake.post(form()?, key).await?;
    let id = first.id()?;
    println!(
        "   POST /leads (multipart/form-data, Idempotency-Key: {key}) -> {} {}",
        first.status, first.body
    );
    println!(
        "     Access-Control-Allow-Origin: {}",
        first.cors.as_deref().unwrap_or("(none)")
    );
    let again = intake.post(form()?, key).await?;
    let again_id = again.id()?;
    println!(
        "   POST /leads again, same key (a double click) -> {} {}, replayed: {}",
        again.status, again.body, again.replayed
    );
    if again_id != id || !again.replayed {
        return Err(format!("the double click made a second submission {again_id}").into());
    }
    let status = intake.delivered(&id).await?;
    let lead_id = status["lead_id"]
        .as_u64()
        .ok_or("delivered without a lead id")?;
    println!(
        "   GET /leads/{id} -> delivered {} ms after it was received (attempts: {})",
        delivery_ms(&status),
        status["attempts"]
    );
    let leads = crm_leads(portal, &id);
    let lead = leads.first().cloned().unwrap_or_default();
    println!(
        "   CRM lead {lead_id}: {:?}, phone {}, source {}, ORIGIN_ID = the submission id",
        lead["TITLE"].as_str().unwrap_or("?"),
        phone(&lead),
        lead["SOURCE_ID"].as_str().unwrap_or("?"),
    );
    let folder = &intake.folder;
    let files = disk_files(&client, folder, &id).await?;
    let comment = files_comment(&client, lead_id, &id).await?;
    println!("   Disk: {folder}/{id}/ holds {}", files.join(", "));
    println!("   timeline comment {comment} on the lead links and attaches it");
    let leads = leads.len();
    println!("   exactly once: {leads} lead for 2 posts");
    if leads != 1 || files.len() != 1 {
        return Err(format!(
            "{leads} lead(s) and {} Disk file(s) for one submission",
            files.len()
        )
        .into());
    }
    Ok(format!(
        "lead {lead_id} with its PDF on Disk; exactly once: 1 lead for 2 posts"
    ))
}

/// A form whose first delivery attempt creates the lead but loses the portal's reply.
pub(crate) async fn lost_reply(portal: &SandboxPortal, intake: Intake) -> DemoResult<String> {
    let pdf = tiny_pdf();
    let form = Form::new()
        .text("name", "Иван Петров")
        .text("phone", "+7 912 345-67-89")
        .text("message", "Реквизиты для договора во вложении")
        .part(
            "files[]",
            Part::bytes(pdf.clone()).file_name("реквизиты.pdf"),
        );
    portal.add_fault(
        Fault::new(FaultKind::CommitThenDrop)
            .method("crm.lead.add")
            .times(1),
    );
    println!("   the portal will save the next crm.lead.add, then drop the connection unanswered");
    println!("   the customer sends: Иван Петров, +7 912 345-67-89, file реквизиты.pdf");
    let before = portal.requests().len();
    let posted = intake.post(form, "form-51d0b4aa-1").await?;
    let id = posted.id()?;
    println!("   POST /leads -> {} {}", posted.status, posted.body);
    let status = intake.delivered(&id).await?;
    let lead_id = status["lead_id"]
        .as_u64()
        .ok_or("delivered without a lead id")?;
    let sent = portal.requests()[before..]
        .iter()
        .filter(|r| r.method == "crm.lead.add")
        .count();
    let attempts = status["attempts"].as_u64().unwrap_or(0);
    println!("   attempt 1: the lead was saved, its reply lost: outcome unknown, nothing resent");
    println!("   attempt 2: found lead {lead_id} by ORIGINATOR_ID + ORIGIN_ID, attached the file");
    println!(
        "   GET /leads/{id} -> delivered after {attempts} attempts, {} ms after it was received",
        delivery_ms(&status)
    );
    let leads = crm_leads(portal, &id);
    let lead = leads.first().cloned().unwrap_or_default();
    println!(
        "   CRM lead {lead_id}: {:?}, phone {}; crm.lead.add sent {sent} time(s)",
        lead["TITLE"].as_str().unwrap_or("?"),
        phone(&lead),
    );
    let leads = leads.len();
    println!("   exactly once: {leads} lead for 1 post and 2 delivery attempts");
    if attempts < 2 {
        return Err("the lost reply did not happen: the fault never fired".into());
    }
    if leads != 1 || sent != 1 {
        return Err(format!("{leads} lead(s), crm.lead.add sent {sent} times").into());
    }
    Ok(format!(
        "lead {lead_id} after a lost reply; crm.lead.add sent once, 1 lead"
    ))
}
