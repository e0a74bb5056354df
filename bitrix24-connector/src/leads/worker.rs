//! The delivery worker: takes stored submissions to the CRM, exactly once.
//!
//! Every step that creates something on the portal (the submission's Disk folder, each file,
//! the lead, the timeline comment) is recorded as *attempted* in storage before its request is
//! sent. A step found attempted but not finished — after a timeout, a reset, a 5xx, a crash or
//! `kill -9` — is looked up on the portal first (the lead by `ORIGINATOR_ID` + `ORIGIN_ID`, the
//! folder and files by name, the comment by the submission id it quotes) and only repeated when
//! the lookup proves it did not happen.
//!
//! Submissions without files go 50 to a batch (`crm.lead.add` ×50 in one request), so a burst of
//! a thousand costs twenty requests of the portal's rate limit, not a thousand.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use bitrix24::Client;
use bitrix24::files::{FileContent, FilesExt, UploadSource};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{Mutex, Notify};

use super::notify::Notifier;
use super::settings::IntakeSettings;
use super::submissions::{Step, Submission, Submissions};
use crate::store::StoreError;

/// The most commands one batch carries.
const BATCH_LIMIT: usize = 50;

/// Why one attempt at a submission did not finish.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AttemptError {
    /// Worth trying again later: the portal is down, slow, limited or the outcome is unknown.
    #[error("{0}")]
    Transient(String),
    /// Trying again will not help (the portal refused the data); a person must look.
    #[error("{0}")]
    Permanent(String),
    /// Local storage failed: the submission stays as it was.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<bitrix24::Error> for AttemptError {
    fn from(error: bitrix24::Error) -> Self {
        let text = error.to_string();
        if error.is_retryable()
            || error.is_outcome_unknown()
            || error.is_auth()
            || matches!(error.kind(), bitrix24::ErrorKind::TokenStore)
        {
            Self::Transient(text)
        } else {
            Self::Permanent(text)
        }
    }
}

/// Delivers stored submissions until stopped.
#[derive(Debug, Clone)]
pub struct DeliveryWorker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    submissions: Submissions,
    settings: Arc<IntakeSettings>,
    wake: Arc<Notify>,
    root_folder: Mutex<Option<u64>>,
    notifier: Option<Notifier>,
}

impl DeliveryWorker {
    /// A worker delivering `submissions` through `client`. `wake` is notified by the endpoint
    /// when it stores a submission, so delivery starts at once instead of at the next poll.
    pub fn new(
        client: Client,
        submissions: Submissions,
        settings: Arc<IntakeSettings>,
        wake: Arc<Notify>,
    ) -> Self {
        let notifier = settings.notify.clone().map(Notifier::new);
        Self {
            inner: Arc::new(Inner {
                client,
                submissions,
                settings,
                wake,
                root_folder: Mutex::new(None),
                notifier,
            }),
        }
    }

    /// Delivers until `shutdown` resolves. Storage errors are logged and retried after a pause:
    /// the worker never exits on its own.
    ///
    /// It first takes over the submissions a previous process had claimed: run one worker per
    /// database.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        match self.inner.submissions.release_claims().await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "resuming submissions a previous run had claimed"),
            Err(error) => tracing::error!(%error, "lead delivery: cannot release old claims"),
        }
        loop {
            let worked = match self.run_once().await {
                Ok(count) => count > 0,
                Err(error) => {
                    tracing::error!(%error, "lead delivery: storage failed; retrying");
                    false
                }
            };
            if worked {
                continue;
            }
            let idle = self.idle_wait().await;
            tokio::select! {
                () = &mut shutdown => return,
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(idle) => {}
            }
        }
    }

    async fn idle_wait(&self) -> Duration {
        let poll = self.inner.settings.delivery.poll_interval;
        match self.inner.submissions.next_due_at().await {
            Ok(Some(due)) => {
                let wait = due.saturating_sub(crate::store::now_ms()).max(0);
                Duration::from_millis(u64::try_from(wait).unwrap_or(0)).min(poll)
            }
            _ => poll,
        }
    }

    /// One pass: claims what is due and tries each once. Returns how many were claimed.
    ///
    /// # Errors
    /// When claiming from storage fails.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let delivery = &self.inner.settings.delivery;
        let limit = u32::try_from(delivery.concurrency.max(1) * BATCH_LIMIT).unwrap_or(u32::MAX);
        let lease = i64::try_from(delivery.lease.as_millis()).unwrap_or(i64::MAX);
        let claimed = self.inner.submissions.claim_due(limit, lease).await?;
        let count = claimed.len();
        if count == 0 {
            return Ok(0);
        }
        let (plain, with_steps): (Vec<_>, Vec<_>) = claimed
            .into_iter()
            .partition(|s| s.files.is_empty() && s.lead_id.is_none());
        let mut jobs: Vec<Job> = plain
            .chunks(BATCH_LIMIT)
            .map(|chunk| Job::Batch(chunk.to_vec()))
            .collect();
        jobs.extend(with_steps.into_iter().map(|s| Job::One(Box::new(s))));
        futures::stream::iter(jobs)
            .for_each_concurrent(delivery.concurrency.max(1), |job| async move {
                match job {
                    Job::Batch(submissions) => self.deliver_batch(submissions).await,
                    Job::One(submission) => {
                        let result = self.deliver_one(&submission).await;
                        self.settle(&submission, result).await;
                    }
                }
            })
            .await;
        Ok(count)
    }

    /// Records how an attempt ended.
    async fn settle(&self, submission: &Submission, result: Result<(), AttemptError>) {
        let submissions = &self.inner.submissions;
        let delivery = &self.inner.settings.delivery;
        let stored = match result {
            Ok(()) => return,
            Err(AttemptError::Transient(reason))
                if submission.attempts.saturating_add(1) < delivery.max_attempts =>
            {
                let delay = delivery.backoff(submission.attempts);
                tracing::warn!(id = %submission.id, %reason, ?delay, "lead delivery will be retried");
                let delay = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
                submissions
                    .retry_later(&submission.id, &reason, delay)
                    .await
            }
            Err(AttemptError::Transient(reason) | AttemptError::Permanent(reason)) => {
                tracing::error!(id = %submission.id, %reason, "lead delivery failed");
                submissions.fail(&submission.id, &reason).await
            }
            Err(AttemptError::Store(error)) => {
                // The lease runs out and the submission is claimed again.
                tracing::error!(id = %submission.id, %error, "lead delivery: storage failed");
                Ok(())
            }
        };
        if let Err(error) = stored {
            tracing::error!(id = %submission.id, %error, "lead delivery: cannot record the outcome");
        }
    }

    /// Finishes a submission whose lead exists: marks it delivered, then tells the managers.
    async fn finish(&self, submission: &Submission, lead_id: u64) -> Result<(), AttemptError> {
        self.inner.submissions.delivered(&submission.id).await?;
        tracing::info!(id = %submission.id, lead_id, "lead delivered");
        if let Some(notifier) = &self.inner.notifier
            && !submission.notified
        {
            let link = lead_link(&self.inner.client, lead_id);
            let title = self.inner.settings.title_for(&submission.form.name);
            // At most once: a crash between delivery and this message loses the message, never
            // repeats it.
            match notifier.new_lead(&title, &link, &submission.form).await {
                Ok(()) => self.inner.submissions.set_notified(&submission.id).await?,
                Err(error) => {
                    tracing::warn!(id = %submission.id, %error, "lead notification failed");
                }
            }
        }
        Ok(())
    }

    // ---- submissions without files: 50 per request -------------------------------------------

    async fn deliver_batch(&self, submissions: Vec<Submission>) {
        let mut pending: Vec<Submission> = Vec::with_capacity(submissions.len());
        // Creates that may have happened: find them before anything else.
        let uncertain: Vec<&Submission> =
            submissions.iter().filter(|s| s.create_attempted).collect();
        let found = match self.find_leads(&uncertain).await {
            Ok(found) => found,
            Err(error) => {
                let reason = error.to_string();
                for submission in &submissions {
                    self.settle(submission, Err(AttemptError::Transient(reason.clone())))
                        .await;
                }
                return;
            }
        };
        for submission in submissions {
            match found.get(&submission.id) {
                Some(&(lead_id, contact_id)) => {
                    let result = self.record_lead(&submission, lead_id, contact_id).await;
                    self.settle(&submission, result).await;
                }
                None => pending.push(submission),
            }
        }
        if pending.is_empty() {
            return;
        }
        let contacts = match self.find_contacts(&pending).await {
            Ok(contacts) => contacts,
            Err(error) => {
                let reason = error.to_string();
                for submission in &pending {
                    self.settle(submission, Err(AttemptError::Transient(reason.clone())))
                        .await;
                }
                return;
            }
        };
        let ids: Vec<&str> = pending.iter().map(|s| s.id.as_str()).collect();
        if let Err(error) = self
            .inner
            .submissions
            .mark_attempted(&ids, Step::Create)
            .await
        {
            let reason = error.to_string();
            for submission in &pending {
                self.settle(submission, Err(AttemptError::Transient(reason.clone())))
                    .await;
            }
            return;
        }
        let mut batch = self.inner.client.batch();
        batch.halt(false);
        let keys: Vec<_> = pending
            .iter()
            .map(|submission| {
                let contact = contacts.get(&submission.id).copied();
                batch.add_raw::<Value>("crm.lead.add", self.lead_params(submission, contact), false)
            })
            .collect();
        match batch.send().await {
            Ok(mut reply) => {
                for (submission, key) in pending.iter().zip(&keys) {
                    let contact = contacts.get(&submission.id).copied();
                    let result = match reply.take(key) {
                        Ok(value) => match as_id(&value) {
                            Some(lead_id) => self.record_lead(submission, lead_id, contact).await,
                            None => Err(AttemptError::Transient(format!(
                                "crm.lead.add returned {value} instead of an id"
                            ))),
                        },
                        Err(error) => Err(AttemptError::from(error)),
                    };
                    self.settle(submission, result).await;
                }
            }
            Err(error) => {
                // Sent or not, `create_attempted` makes the next attempt look before it creates.
                let reason = error.to_string();
                let transient = AttemptError::from(error);
                for submission in &pending {
                    let result = match &transient {
                        AttemptError::Permanent(_) => Err(AttemptError::Permanent(reason.clone())),
                        _ => Err(AttemptError::Transient(reason.clone())),
                    };
                    self.settle(submission, result).await;
                }
            }
        }
    }

    async fn record_lead(
        &self,
        submission: &Submission,
        lead_id: u64,
        contact_id: Option<u64>,
    ) -> Result<(), AttemptError> {
        self.inner
            .submissions
            .set_lead(&submission.id, lead_id, contact_id)
            .await?;
        self.finish(submission, lead_id).await
    }

    /// Leads already created for these submissions: `ORIGIN_ID` → (lead, contact).
    async fn find_leads(
        &self,
        submissions: &[&Submission],
    ) -> Result<HashMap<String, (u64, Option<u64>)>, bitrix24::Error> {
        let mut found = HashMap::new();
        for chunk in submissions.chunks(BATCH_LIMIT) {
            let ids: Vec<&str> = chunk.iter().map(|s| s.id.as_str()).collect();
            let rows: Vec<Value> = self
                .inner
                .client
                .call_raw(
                    "crm.lead.list",
                    json!({
                        "filter": {
                            "ORIGINATOR_ID": self.inner.settings.originator_id,
                            "@ORIGIN_ID": ids,
                        },
                        "select": ["ID", "ORIGIN_ID", "CONTACT_ID"],
                        "order": { "ID": "ASC" },
                    }),
                )
                .idempotent(true)
                .await?;
            for row in rows {
                let (Some(origin), Some(id)) = (row["ORIGIN_ID"].as_str(), as_id(&row["ID"]))
                else {
                    continue;
                };
                // The oldest wins should two exist (they cannot through this worker).
                found
                    .entry(origin.to_owned())
                    .or_insert((id, as_id(&row["CONTACT_ID"])));
            }
        }
        Ok(found)
    }

    /// Existing contacts with the submissions' phones or e-mails (when the check is on):
    /// submission id → the contact found first (by phone, then e-mail).
    async fn find_contacts(
        &self,
        submissions: &[Submission],
    ) -> Result<HashMap<String, u64>, bitrix24::Error> {
        let mut contacts = HashMap::new();
        if !self.inner.settings.duplicate_check {
            return Ok(contacts);
        }
        let mut lookups: Vec<(&str, &str, &str)> = Vec::new();
        for submission in submissions {
            if let Some(phone) = &submission.form.phone {
                lookups.push((&submission.id, "PHONE", phone));
            }
            if let Some(email) = &submission.form.email {
                lookups.push((&submission.id, "EMAIL", email));
            }
        }
        for chunk in lookups.chunks(BATCH_LIMIT) {
            let mut batch = self.inner.client.batch();
            batch.halt(false);
            let keys: Vec<_> = chunk
                .iter()
                .map(|(_, kind, value)| {
                    batch.add_raw::<Value>(
                        "crm.duplicate.findbycomm",
                        json!({ "type": kind, "values": [value], "entity_type": "CONTACT" }),
                        true,
                    )
                })
                .collect();
            let mut reply = batch.send().await?;
            for ((id, _, _), key) in chunk.iter().zip(&keys) {
                // A failed lookup only loses the link, never the lead.
                let Ok(found) = reply.take(key) else { continue };
                if let Some(contact) = found["CONTACT"]
                    .as_array()
                    .and_then(|ids| ids.iter().find_map(as_id))
                {
                    contacts.entry((*id).to_owned()).or_insert(contact);
                }
            }
        }
        Ok(contacts)
    }

    /// `crm.lead.add`'s parameters for a submission.
    fn lead_params(&self, submission: &Submission, contact_id: Option<u64>) -> Value {
        lead_params(&self.inner.settings, submission, contact_id)
    }

    // ---- submissions with files, or half-done ones: step by step ------------------------------

    async fn deliver_one(&self, submission: &Submission) -> Result<(), AttemptError> {
        let mut submission = submission.clone();
        if !submission.files.is_empty() && submission.comment_id.is_none() {
            self.upload_files(&mut submission).await?;
        }
        let lead_id = match submission.lead_id {
            Some(lead_id) => lead_id,
            None => self.create_lead(&mut submission).await?,
        };
        if !submission.files.is_empty() && submission.comment_id.is_none() {
            self.comment_with_files(&submission, lead_id).await?;
        }
        self.finish(&submission, lead_id).await
    }

    async fn create_lead(&self, submission: &mut Submission) -> Result<u64, AttemptError> {
        let submissions = &self.inner.submissions;
        if submission.create_attempted {
            let found = self.find_leads(&[&*submission]).await?;
            if let Some(&(lead_id, contact_id)) = found.get(&submission.id) {
                submissions
                    .set_lead(&submission.id, lead_id, contact_id)
                    .await?;
                submission.lead_id = Some(lead_id);
                return Ok(lead_id);
            }
        }
        let contact = self
            .find_contacts(std::slice::from_ref(submission))
            .await?
            .get(&submission.id)
            .copied();
        submissions
            .mark_attempted(&[&submission.id], Step::Create)
            .await?;
        submission.create_attempted = true;
        let reply: Value = self
            .inner
            .client
            .call_raw("crm.lead.add", self.lead_params(submission, contact))
            .await?;
        let lead_id = as_id(&reply).ok_or_else(|| {
            AttemptError::Transient(format!("crm.lead.add returned {reply} instead of an id"))
        })?;
        submissions
            .set_lead(&submission.id, lead_id, contact)
            .await?;
        submission.lead_id = Some(lead_id);
        Ok(lead_id)
    }

    /// The Disk folder that holds every submission's folder.
    async fn root_folder(&self) -> Result<u64, AttemptError> {
        let mut cached = self.inner.root_folder.lock().await;
        if let Some(id) = *cached {
            return Ok(id);
        }
        let id = ensure_folder(&self.inner.client, &self.inner.settings.disk_folder).await?;
        *cached = Some(id);
        Ok(id)
    }

    /// The submission's own Disk folder (named by its id), created once.
    async fn submission_folder(&self, submission: &mut Submission) -> Result<u64, AttemptError> {
        if let Some(id) = submission.folder_id {
            return Ok(id);
        }
        let client = &self.inner.client;
        let submissions = &self.inner.submissions;
        let root = self.root_folder().await?;
        let existing = if submission.folder_attempted {
            child_named(client, root, &submission.id)
                .await?
                .and_then(|f| as_id(&f["ID"]))
        } else {
            None
        };
        let id = if let Some(id) = existing {
            id
        } else {
            submissions
                .mark_attempted(&[&submission.id], Step::Folder)
                .await?;
            let created: Value = client
                .call_raw(
                    "disk.folder.addsubfolder",
                    json!({ "id": root, "data": { "NAME": submission.id } }),
                )
                .await?;
            as_id(&created["ID"]).ok_or_else(|| {
                AttemptError::Transient(format!("disk.folder.addsubfolder returned {created}"))
            })?
        };
        submissions.set_folder(&submission.id, id).await?;
        submission.folder_id = Some(id);
        Ok(id)
    }

    async fn upload_files(&self, submission: &mut Submission) -> Result<(), AttemptError> {
        let client = &self.inner.client;
        let submissions = &self.inner.submissions;
        let folder_id = self.submission_folder(submission).await?;
        for file in &mut submission.files {
            if file.disk_file_id.is_some() {
                continue;
            }
            if file.upload_attempted
                && let Some(existing) = child_named(client, folder_id, &file.name).await?
                && let Some(id) = as_id(&existing["ID"])
            {
                let url = existing["DETAIL_URL"].as_str();
                submissions
                    .set_uploaded(&submission.id, file.position, id, url)
                    .await?;
                file.disk_file_id = Some(id);
                file.disk_url = url.map(str::to_owned);
                continue;
            }
            if tokio::fs::metadata(&file.path).await.is_err() {
                return Err(AttemptError::Permanent(format!(
                    "the received file {:?} is missing from local storage",
                    file.name
                )));
            }
            submissions
                .mark_upload_attempted(&submission.id, file.position)
                .await?;
            let uploaded: Value = client
                .files()
                .upload_to_folder(
                    folder_id,
                    UploadSource::from_path(&file.path).with_name(file.name.clone()),
                )
                .output::<Value>()
                .await?;
            let id = as_id(&uploaded["ID"]).ok_or_else(|| {
                AttemptError::Transient(format!("the upload of {:?} returned no id", file.name))
            })?;
            let url = uploaded["DETAIL_URL"].as_str();
            submissions
                .set_uploaded(&submission.id, file.position, id, url)
                .await?;
            file.disk_file_id = Some(id);
            file.disk_url = url.map(str::to_owned);
        }
        Ok(())
    }

    async fn comment_with_files(
        &self,
        submission: &Submission,
        lead_id: u64,
    ) -> Result<(), AttemptError> {
        let client = &self.inner.client;
        let marker = format!("[{}]", submission.id);
        if submission.comment_attempted {
            let comments: Vec<Value> = client
                .call_raw(
                    "crm.timeline.comment.list",
                    json!({
                        "filter": { "ENTITY_ID": lead_id, "ENTITY_TYPE": "lead" },
                        "select": ["ID", "COMMENT"],
                    }),
                )
                .idempotent(true)
                .await?;
            if let Some(id) = comments
                .iter()
                .find(|c| {
                    c["COMMENT"]
                        .as_str()
                        .is_some_and(|text| text.contains(&marker))
                })
                .and_then(|c| as_id(&c["ID"]))
            {
                self.inner
                    .submissions
                    .set_comment(&submission.id, id)
                    .await?;
                return Ok(());
            }
        }
        let mut text = format!("Файлы из заявки {marker}:");
        for file in &submission.files {
            match &file.disk_url {
                Some(url) => {
                    let _ = write!(text, "\n[url={url}]{}[/url]", bb_escape(&file.name));
                }
                None => {
                    let _ = write!(text, "\n{}", bb_escape(&file.name));
                }
            }
        }
        let total: u64 = submission.files.iter().map(|f| f.size).sum();
        let mut inline = Vec::new();
        if total <= self.inner.settings.inline_comment_bytes {
            for file in &submission.files {
                let bytes = tokio::fs::read(&file.path).await.map_err(|error| {
                    AttemptError::Store(StoreError::File {
                        context: format!("reading {}", file.path.display()),
                        source: error,
                    })
                })?;
                inline.push(FileContent::from_bytes(file.name.clone(), bytes));
            }
        }
        self.inner
            .submissions
            .mark_attempted(&[&submission.id], Step::Comment)
            .await?;
        let id = client
            .files()
            .add_timeline_comment("lead", lead_id, &text, inline)
            .await?;
        self.inner
            .submissions
            .set_comment(&submission.id, id.get())
            .await?;
        Ok(())
    }
}

enum Job {
    Batch(Vec<Submission>),
    // Boxed: a batch is a pointer wide, a submission hundreds of bytes.
    One(Box<Submission>),
}

/// `crm.lead.add`'s parameters: the form mapped onto the lead's fields.
pub(crate) fn lead_params(
    settings: &IntakeSettings,
    submission: &Submission,
    contact_id: Option<u64>,
) -> Value {
    let form = &submission.form;
    let mut description = settings.source_description.clone();
    if let Some(page) = &form.page_url {
        description.push_str(": ");
        description.push_str(page);
    }
    let mut fields = json!({
        "TITLE": settings.title_for(&form.name),
        "NAME": form.name,
        "SOURCE_ID": settings.source_id,
        "SOURCE_DESCRIPTION": description,
        "ORIGINATOR_ID": settings.originator_id,
        "ORIGIN_ID": submission.id,
    });
    if let Some(message) = &form.message {
        // COMMENTS is shown as HTML: the customer's text must not become markup.
        fields["COMMENTS"] = json!(html_escape(message).replace('\n', "<br>"));
    }
    if let Some(phone) = &form.phone {
        fields["PHONE"] = json!([{ "VALUE": phone, "VALUE_TYPE": "WORK" }]);
    }
    if let Some(email) = &form.email {
        fields["EMAIL"] = json!([{ "VALUE": email, "VALUE_TYPE": "WORK" }]);
    }
    if let Some(user) = settings.responsible_user_id {
        fields["ASSIGNED_BY_ID"] = json!(user);
    }
    for (field, value) in [
        ("UTM_SOURCE", &form.utm.source),
        ("UTM_MEDIUM", &form.utm.medium),
        ("UTM_CAMPAIGN", &form.utm.campaign),
        ("UTM_CONTENT", &form.utm.content),
        ("UTM_TERM", &form.utm.term),
    ] {
        if let Some(value) = value {
            fields[field] = json!(value);
        }
    }
    if let Some(contact) = contact_id {
        fields["CONTACT_ID"] = json!(contact);
        fields["IS_RETURN_CUSTOMER"] = json!("Y");
    }
    json!({ "fields": fields, "params": { "REGISTER_SONET_EVENT": "Y" } })
}

/// The folder `name` at the root of the portal's common Disk storage, created when missing.
pub(crate) async fn ensure_folder(client: &Client, name: &str) -> Result<u64, AttemptError> {
    let storages: Vec<Value> = client
        .call_raw(
            "disk.storage.getlist",
            json!({ "filter": { "ENTITY_TYPE": "common" } }),
        )
        .idempotent(true)
        .await?;
    let storage_root = storages
        .iter()
        .find_map(|s| as_id(&s["ROOT_OBJECT_ID"]))
        .ok_or_else(|| AttemptError::Permanent("the portal has no common Disk storage".into()))?;
    let id = if let Some(existing) = child_named(client, storage_root, name).await? {
        as_id(&existing["ID"])
    } else {
        // Two workers racing here could both create it; Disk refuses the second with a name
        // conflict and the lookup on the next attempt finds the first.
        let created: Value = client
            .call_raw(
                "disk.folder.addsubfolder",
                json!({ "id": storage_root, "data": { "NAME": name } }),
            )
            .await?;
        as_id(&created["ID"])
    };
    id.ok_or_else(|| AttemptError::Transient(format!("the Disk folder {name:?} has no id")))
}

/// The child of a Disk folder with exactly this name, if any.
async fn child_named(
    client: &Client,
    folder_id: u64,
    name: &str,
) -> Result<Option<Value>, bitrix24::Error> {
    let children: Vec<Value> = client
        .call_raw(
            "disk.folder.getchildren",
            json!({ "id": folder_id, "filter": { "NAME": name } }),
        )
        .idempotent(true)
        .await?;
    Ok(children
        .into_iter()
        .find(|child| child["NAME"].as_str() == Some(name)))
}

/// The lead's page on the portal.
pub(crate) fn lead_link(client: &Client, lead_id: u64) -> String {
    let mut url = client.portal().as_url().clone();
    url.set_path(&format!("/crm/lead/details/{lead_id}/"));
    url.set_query(None);
    url.to_string()
}

/// An id that the portal sends as a number or as a numeric string.
fn as_id(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .filter(|id| *id > 0)
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn bb_escape(text: &str) -> String {
    text.replace('[', "(").replace(']', ")")
}
