//! The calls recorded as fixtures and replayed by the snapshot tests: typed requests of every
//! covered module, through the handles, one after another.
//!
//! Shared by `examples/examples/record_fixtures.rs` (which runs it against the sandbox with
//! recording on) and `tests/replay.rs` (which runs it against the recorded fixtures). It must
//! stay deterministic: the same calls with the same parameters, each depending only on what
//! earlier replies returned.
// One linear script reads best as one function, in the order the calls are recorded.
#![allow(clippy::too_many_lines)]

use std::fmt::Debug;

use bitrix24::crm::{ContactFields, DealFields, ItemFields, LeadFields};
use bitrix24::files::UploadSource;
use bitrix24::tasks::TaskFields;
use bitrix24::{Client, Result};
use serde_json::json;

/// What one step returned, as a labelled `Debug` rendering for snapshots.
#[allow(dead_code)] // the recorder only counts the outcomes; the replay test reads them
pub(crate) struct Outcome {
    pub(crate) label: &'static str,
    pub(crate) rendered: String,
}

fn keep(outcomes: &mut Vec<Outcome>, label: &'static str, value: &impl Debug) {
    outcomes.push(Outcome {
        label,
        rendered: format!("{value:#?}"),
    });
}

/// Runs every step; `webhook` is an incoming-webhook client, `app` an application client
/// (for the app-only scopes).
pub(crate) async fn run(webhook: &Client, app: &Client) -> Result<Vec<Outcome>> {
    let mut out = Vec::new();
    let crm = webhook.crm();

    // crm: the old entity methods.
    let lead_id = crm
        .leads()
        .add(
            LeadFields::new()
                .title("Replay lead")
                .name("Anna")
                .phone("+79990001122", "WORK")
                .origin_id("replay-1"),
        )
        .await?;
    keep(&mut out, "crm_lead_add", &lead_id);
    keep(
        &mut out,
        "crm_lead_get",
        &crm.leads().get(lead_id.get()).await?,
    );
    keep(
        &mut out,
        "crm_lead_update",
        &crm.leads()
            .update(lead_id.get(), LeadFields::new().title("Replay lead, paid"))
            .await?,
    );
    keep(
        &mut out,
        "crm_lead_list",
        &crm.leads()
            .list()
            .with(|m| {
                m.filter(json!({ "ORIGIN_ID": "replay-1" }))
                    .select(["ID", "TITLE", "PHONE"])
            })
            .await?,
    );
    let deal_id = crm
        .deals()
        .add(
            DealFields::new()
                .title("Replay deal")
                .opportunity(1500.0)
                .currency_id("RUB"),
        )
        .await?;
    keep(
        &mut out,
        "crm_deal_get",
        &crm.deals().get(deal_id.get()).await?,
    );
    let contact_id = crm
        .contacts()
        .add(
            ContactFields::new()
                .name("Ivan")
                .last_name("Petrov")
                .email("ivan@example.com", "WORK"),
        )
        .await?;
    keep(
        &mut out,
        "crm_contact_get",
        &crm.contacts().get(contact_id.get()).await?,
    );
    keep(
        &mut out,
        "crm_duplicate_findbycomm",
        &crm.find_by_phones(["+7 999 000-11-22"]).await?,
    );

    // crm: universal items and the timeline.
    let item = crm
        .items(2)
        .add(ItemFields::new().title("Replay item").opportunity(300.0))
        .await?;
    keep(&mut out, "crm_item_add", &item);
    keep(&mut out, "crm_item_list", &crm.items(2).list().await?);
    let comment = crm
        .timeline_comments()
        .add("lead", lead_id.get(), "Called the customer", Vec::new())
        .await?;
    keep(&mut out, "crm_timeline_comment_add", &comment);
    keep(
        &mut out,
        "crm_timeline_comment_list",
        &crm.timeline_comments()
            .list(json!({ "ENTITY_ID": lead_id.get(), "ENTITY_TYPE": "lead" }))
            .await?,
    );

    // tasks
    let tasks = webhook.tasks();
    let task = tasks
        .add(
            TaskFields::new()
                .title("Replay task")
                .responsible_id(1_u64)
                .crm_bindings([format!("L_{}", lead_id.get())]),
        )
        .await?
        .task;
    keep(&mut out, "tasks_task_add", &task);
    keep(
        &mut out,
        "tasks_task_start",
        &tasks.start(task.id.get()).await?,
    );
    keep(
        &mut out,
        "tasks_task_complete",
        &tasks.complete(task.id.get()).await?,
    );
    keep(
        &mut out,
        "task_commentitem_add",
        &tasks
            .comments(task.id.get())
            .add("Done", Vec::new())
            .await?,
    );
    keep(
        &mut out,
        "task_commentitem_getlist",
        &tasks.comments(task.id.get()).list().await?,
    );

    // disk
    let storages = webhook.disk().storages().await?;
    keep(&mut out, "disk_storage_getlist", &storages);
    if let Some(root) = storages.iter().find_map(|storage| storage.root_object_id) {
        let file = webhook
            .disk()
            .folder(root.get())
            .upload(UploadSource::from_bytes("replay.txt", "replayed bytes"))
            .generate_unique_name(true)
            .await?;
        keep(&mut out, "disk_folder_uploadfile", &file);
        keep(
            &mut out,
            "disk_folder_getchildren",
            &webhook.disk().folder(root.get()).children().await?,
        );
    }

    // user and im
    keep(&mut out, "user_current", &webhook.users().current().await?);
    keep(
        &mut out,
        "user_search",
        &webhook.users().search("Anna").await?,
    );
    keep(
        &mut out,
        "im_notify_personal_add",
        &webhook
            .im()
            .notify_personal(2, "Please approve the deal")
            .await?,
    );
    keep(
        &mut out,
        "im_message_add",
        &webhook.im().send_message("1", "Hello").await?,
    );

    // app-only: events, connectors, open lines
    keep(
        &mut out,
        "event_bind",
        &app.events()
            .bind("ONCRMLEADADD", "https://example.com/events")
            .await?,
    );
    keep(&mut out, "event_get", &app.events().list().await?);
    let connector = app.imconnector();
    keep(
        &mut out,
        "imconnector_register",
        &connector
            .register(
                "replay_tg",
                "Replay",
                json!({ "DATA_IMAGE": "data:image/svg+xml,<svg/>" }),
                "https://example.com/placement",
            )
            .await?,
    );
    keep(
        &mut out,
        "imconnector_activate",
        &connector.activate("replay_tg", 1, true).await?,
    );
    keep(
        &mut out,
        "imconnector_status",
        &connector.status("replay_tg", 1).await?,
    );
    let messages = json!([{
        "user": { "id": "tg-100", "name": "Maria", "phone": "+79990003344" },
        "message": { "id": "m-1", "date": 1_700_000_000, "text": "Hello, I need help" },
        "chat": { "id": "tg-100" }
    }]);
    keep(
        &mut out,
        "imconnector_send_messages",
        &connector.send_messages("replay_tg", 1, messages).await?,
    );
    keep(
        &mut out,
        "imopenlines_config_list_get",
        &app.imopenlines().configs().await?,
    );
    keep(
        &mut out,
        "imopenlines_config_get",
        &app.imopenlines().config(1).await?,
    );
    Ok(out)
}
