//! The scope handles read like the docs and return typed results, against the sandbox.

use bitrix24::crm::{ItemFields, LeadFields};
use bitrix24::files::UploadSource;
use bitrix24::sandbox::SandboxPortal;
use bitrix24::tasks::{TaskFields, TaskStatus};
use bitrix24::{Client, Limits, Method};
use futures::TryStreamExt;
use serde_json::{Value, json};

async fn portal() -> (SandboxPortal, Client) {
    let portal = SandboxPortal::builder()
        .limits(Limits::unlimited())
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .webhook(portal.webhook_url())
        .limits(Limits::unlimited())
        .build()
        .unwrap();
    (portal, client)
}

#[tokio::test]
async fn leads_from_add_to_delete() {
    let (_portal, client) = portal().await;
    let leads = client.crm().leads();
    let id = leads
        .add(
            LeadFields::new()
                .title("Website order")
                .name("Anna")
                .phone("+79990001122", "WORK")
                .origin_id("form-1"),
        )
        .await
        .unwrap();
    let lead = leads.get(id.get()).await.unwrap();
    assert_eq!(lead.title.as_deref(), Some("Website order"));
    assert_eq!(lead.phone[0].value.as_deref(), Some("+79990001122"));
    assert!(
        leads
            .update(id.get(), LeadFields::new().title("Paid order"))
            .await
            .unwrap()
    );
    let found = leads
        .list()
        .with(|m| {
            m.filter(json!({ "ORIGIN_ID": "form-1" }))
                .select(["ID", "TITLE"])
        })
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].title.as_deref(), Some("Paid order"));
    let streamed: Vec<_> = leads
        .list()
        .stream_by_id()
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed.len(), 1);
    assert!(leads.delete(id.get()).await.unwrap());
    assert!(leads.get(id.get()).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn universal_items_share_rows_with_the_old_methods() {
    let (_portal, client) = portal().await;
    let deals = client.crm().items(2);
    let item = deals
        .add(ItemFields::new().title("Big deal").opportunity(1000.0))
        .await
        .unwrap()
        .item;
    let old = client.crm().deals().get(item.id.get()).await.unwrap();
    assert_eq!(old.title.as_deref(), Some("Big deal"));
    let page = deals.list().await.unwrap();
    assert_eq!(page.items.len(), 1);
}

#[tokio::test]
async fn tasks_move_through_their_statuses() {
    let (portal, client) = portal().await;
    let tasks = client.tasks();
    let task = tasks
        .add(
            TaskFields::new()
                .title("Call the client")
                .responsible_id(1_u64),
        )
        .await
        .unwrap()
        .task;
    let id = task.id.get();
    assert_eq!(
        tasks.start(id).await.unwrap().task.status,
        Some(TaskStatus::InProgress)
    );
    assert_eq!(
        tasks.complete(id).await.unwrap().task.status,
        Some(TaskStatus::Completed)
    );
    let comment = tasks
        .comments(id)
        .add("Done, see the file", Vec::new())
        .await
        .unwrap();
    assert!(comment.get() > 0);
    assert_eq!(portal.task_comments(id).len(), 1);
    let listed = tasks.list().await.unwrap();
    assert!(listed.tasks.iter().any(|t| t.id.get() == id));
}

#[tokio::test]
async fn disk_users_and_notifications() {
    let (portal, client) = portal().await;
    let storages = client.disk().storages().await.unwrap();
    let folder_id = storages
        .iter()
        .find_map(|s| s.root_object_id)
        .unwrap()
        .get();
    let file = client
        .disk()
        .folder(folder_id)
        .upload(UploadSource::from_bytes("hello.txt", "hi there"))
        .await
        .unwrap();
    assert_eq!(portal.disk_file(file.id.get()).unwrap().1, b"hi there");
    let me = client.users().current().await.unwrap();
    assert_eq!(me.id.get(), 1);
    let found = client.users().search("Anna").await.unwrap();
    assert!(found.iter().any(|u| u.name.as_deref() == Some("Anna")));
    let id = client
        .im()
        .notify_personal(2, "Please approve")
        .await
        .unwrap();
    assert!(id.get() > 0);
    assert_eq!(portal.notifications().len(), 1);
}

#[tokio::test]
async fn app_only_scopes_work_with_an_app_and_not_with_a_webhook() {
    let (portal, client) = portal().await;
    let error = client.events().list().await.unwrap_err();
    assert!(error.is_auth(), "{error:?}");
    let app = portal.app_client().unwrap();
    assert!(
        app.events()
            .bind("ONCRMLEADADD", "https://example.com/hook")
            .await
            .is_ok()
    );
    let bindings: Value = serde_json::to_value(app.events().list().await.unwrap()).unwrap();
    assert_eq!(bindings[0]["event"], "ONCRMLEADADD");
    let registered = app
        .imconnector()
        .register(
            "tg_bridge",
            "Telegram",
            json!({ "DATA_IMAGE": "data:image/svg+xml,<svg/>" }),
            "https://example.com/placement",
        )
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&registered).unwrap(),
        json!({ "result": true }),
        "the documented reply nests `result`"
    );
    let _ = <bitrix24::methods::event::Get as Method>::NAME;
}
