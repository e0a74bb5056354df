//! `lead-intake doctor`: what is wrong with the portal connection, one line each.

use bitrix24::Client;
use bitrix24::files::{FilesExt, UploadSource};
use serde_json::{Value, json};

use super::settings::IntakeSettings;
use super::worker::{AttemptError, ensure_folder};

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What was checked: `portal`, `scope crm`, `responsible user`, `disk folder`…
    pub check: String,
    /// What is wrong, in one line; `None` when the check passed.
    pub problem: Option<String>,
    /// What was found when it passed.
    pub detail: String,
}

impl Finding {
    fn ok(check: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            check: check.into(),
            problem: None,
            detail: detail.into(),
        }
    }

    fn problem(check: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            check: check.into(),
            problem: Some(problem.into()),
            detail: String::new(),
        }
    }

    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        self.problem.is_none()
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.problem {
            None => write!(f, "ok    {}: {}", self.check, self.detail),
            Some(problem) => write!(f, "FAIL  {}: {problem}", self.check),
        }
    }
}

/// Checks, in order: the portal answers and accepts the credentials; the `user`, `crm` and
/// `disk` scopes are granted; the responsible user exists and is active; the Disk folder can be
/// written (a probe file is uploaded and deleted). A portal that cannot be reached stops the
/// rest.
pub async fn diagnose(client: &Client, settings: &IntakeSettings) -> Vec<Finding> {
    let mut findings = Vec::new();
    match client
        .call_raw::<Value>("user.current", json!({}))
        .idempotent(true)
        .await
    {
        Ok(user) => findings.push(Finding::ok(
            "portal",
            format!(
                "{} answers as user {} {}",
                client.portal().host(),
                user["ID"].as_str().unwrap_or("?"),
                user["NAME"].as_str().unwrap_or_default()
            ),
        )),
        Err(error) if error.is_transport() => {
            findings.push(Finding::problem(
                "portal",
                format!("portal unreachable: {error}"),
            ));
            return findings;
        }
        Err(error) if is_missing_scope(&error) => {
            findings.push(Finding::problem(
                "scope user",
                "the webhook lacks the user scope",
            ));
        }
        Err(error) if error.is_auth() => {
            findings.push(Finding::problem(
                "portal",
                format!(
                    "the portal refuses these credentials (wrong or revoked webhook?): {error}"
                ),
            ));
            return findings;
        }
        Err(error) => findings.push(Finding::problem("portal", error.to_string())),
    }
    for (scope, method) in [("crm", "crm.lead.fields"), ("disk", "disk.storage.getlist")] {
        let check = format!("scope {scope}");
        match client
            .call_raw::<Value>(method, json!({}))
            .idempotent(true)
            .await
        {
            Ok(_) => findings.push(Finding::ok(check, format!("{method} answers"))),
            Err(error) if is_missing_scope(&error) => {
                findings.push(Finding::problem(
                    check,
                    format!("the webhook lacks the {scope} scope"),
                ));
            }
            Err(error) => findings.push(Finding::problem(check, error.to_string())),
        }
    }
    if let Some(user_id) = settings.responsible_user_id {
        findings.push(responsible_user(client, user_id).await);
    }
    findings.push(disk_folder(client, &settings.disk_folder).await);
    findings
}

async fn responsible_user(client: &Client, user_id: u64) -> Finding {
    let check = "responsible user";
    match client
        .call_raw::<Vec<Value>>("user.get", json!({ "ID": user_id }))
        .idempotent(true)
        .await
    {
        Ok(users) => match users.first() {
            None => Finding::problem(
                check,
                format!("user {user_id} not found (BITRIX24_RESPONSIBLE_USER_ID)"),
            ),
            Some(user) if user["ACTIVE"] == json!(false) || user["ACTIVE"] == json!("N") => {
                Finding::problem(check, format!("user {user_id} is deactivated"))
            }
            Some(user) => Finding::ok(
                check,
                format!(
                    "{user_id} is {} {}",
                    user["NAME"].as_str().unwrap_or_default(),
                    user["LAST_NAME"].as_str().unwrap_or_default()
                ),
            ),
        },
        Err(error) => Finding::problem(check, error.to_string()),
    }
}

async fn disk_folder(client: &Client, name: &str) -> Finding {
    let check = "disk folder";
    let folder = match ensure_folder(client, name).await {
        Ok(id) => id,
        Err(AttemptError::Transient(e) | AttemptError::Permanent(e)) => {
            return Finding::problem(
                check,
                format!("the Disk folder {name:?} is not usable: {e}"),
            );
        }
        Err(AttemptError::Store(e)) => return Finding::problem(check, e.to_string()),
    };
    let probe = UploadSource::from_bytes(".lead-intake-doctor.txt", "probe")
        .with_name(".lead-intake-doctor.txt");
    let uploaded = client
        .files()
        .upload_to_folder(folder, probe)
        .generate_unique_name(true)
        .output::<Value>()
        .await;
    match uploaded {
        Ok(file) => {
            if let Some(id) = file["ID"]
                .as_u64()
                .or_else(|| file["ID"].as_str()?.parse().ok())
                && let Err(error) = client
                    .call_raw::<Value>("disk.file.delete", json!({ "id": id }))
                    .await
            {
                tracing::warn!(%error, "the doctor's probe file could not be deleted");
            }
            Finding::ok(check, format!("{name:?} (id {folder}) is writable"))
        }
        Err(error) => Finding::problem(
            check,
            format!("the Disk folder {name:?} is not writable: {error}"),
        ),
    }
}

fn is_missing_scope(error: &bitrix24::Error) -> bool {
    error
        .api()
        .is_some_and(|api| api.code.as_str().eq_ignore_ascii_case("insufficient_scope"))
}
