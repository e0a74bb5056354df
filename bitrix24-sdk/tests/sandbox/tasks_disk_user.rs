//! End-to-end tests of the `tasks`, `disk` and `user` sandbox methods through the SDK client.

use std::time::Duration;

use bitrix24::sandbox::SandboxPortal;
use bitrix24::{Client, ErrorCode, Limits};
use serde_json::{Value, json};

use crate::support::{call, quick_client, unlimited};

async fn error_code(client: &Client, method: &str, params: Value) -> String {
    match client.call_raw::<Value>(method, params).await {
        Ok(reply) => panic!("{method} should fail, got {reply}"),
        Err(error) => error
            .code()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
    }
}

fn number(value: &Value) -> u64 {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .unwrap()
}

/// User 1's root folder.
async fn root(client: &Client) -> u64 {
    let storages = call(
        client,
        "disk.storage.getList",
        json!({ "filter": { "ENTITY_TYPE": "user", "ENTITY_ID": 1 } }),
    )
    .await;
    number(&storages[0]["ROOT_OBJECT_ID"])
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn upload(client: &Client, folder: u64, name: &str, bytes: &[u8]) -> Value {
    call(
        client,
        "disk.folder.uploadFile",
        json!({ "id": folder, "data": { "NAME": name }, "fileContent": [name, base64(bytes)] }),
    )
    .await
}

/// A `multipart/form-data` body with the file in the part `field`.
fn multipart(field: &str, name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "sandbox-boundary-7d93";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn download(url: &str) -> reqwest::Response {
    reqwest::Client::new().get(url).send().await.unwrap()
}

#[tokio::test]
#[allow(clippy::too_many_lines)]
async fn a_task_goes_through_its_statuses() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    let added = call(&client, "tasks.task.add", json!({ "fields": { "TITLE": "Prepare the offer", "RESPONSIBLE_ID": 2, "CREATED_BY": 1, "DEADLINE": "2031-05-01T18:00:00", "UF_CRM_TASK": ["D_1"] } })).await;
    let task = &added["task"];
    let id = number(&task["id"]);
    assert_eq!(
        (task["status"].as_str(), task["responsibleId"].as_str()),
        (Some("2"), Some("2"))
    );
    assert_eq!(task["deadline"], "2031-05-01T18:00:00+00:00");
    assert_eq!(task["creator"]["name"], "John Doe");

    let started = call(&client, "tasks.task.start", json!({ "taskId": id })).await;
    assert_eq!(started["task"]["status"], "3");
    assert!(started["task"]["dateStart"].is_string());
    assert_eq!(
        error_code(&client, "tasks.task.start", json!({ "taskId": id })).await,
        "0"
    );
    assert_eq!(
        call(&client, "tasks.task.pause", json!({ "taskId": id })).await["task"]["status"],
        "2"
    );
    assert_eq!(
        call(&client, "tasks.task.defer", json!({ "taskId": id })).await["task"]["status"],
        "6"
    );
    assert_eq!(
        call(&client, "tasks.task.renew", json!({ "taskId": id })).await["task"]["status"],
        "2"
    );
    let completed = call(&client, "tasks.task.complete", json!({ "taskId": id })).await;
    assert_eq!(completed["task"]["status"], "5");
    assert_eq!(completed["task"]["action"]["renew"], json!(true));
    assert_eq!(
        error_code(&client, "tasks.task.approve", json!({ "taskId": id })).await,
        "1048582"
    );

    // Under control and completed by someone other than the creator, it waits for approval.
    let controlled = call(&client, "tasks.task.add", json!({ "fields": { "TITLE": "Check", "CREATED_BY": 2, "RESPONSIBLE_ID": 1, "TASK_CONTROL": "Y" } })).await;
    let controlled = number(&controlled["task"]["id"]);
    assert_eq!(
        call(
            &client,
            "tasks.task.complete",
            json!({ "taskId": controlled })
        )
        .await["task"]["status"],
        "4"
    );
    assert_eq!(
        call(
            &client,
            "tasks.task.disapprove",
            json!({ "taskId": controlled })
        )
        .await["task"]["status"],
        "2"
    );
    call(
        &client,
        "tasks.task.complete",
        json!({ "taskId": controlled }),
    )
    .await;
    assert_eq!(
        call(
            &client,
            "tasks.task.approve",
            json!({ "taskId": controlled })
        )
        .await["task"]["status"],
        "5"
    );

    let delegated = call(
        &client,
        "tasks.task.add",
        json!({ "fields": { "TITLE": "Pass on", "RESPONSIBLE_ID": 1 } }),
    )
    .await;
    let delegated = number(&delegated["task"]["id"]);
    let after = call(
        &client,
        "tasks.task.delegate",
        json!({ "taskId": delegated, "userId": 3 }),
    )
    .await;
    assert_eq!(after["task"]["responsibleId"], "3");
    assert_eq!(after["task"]["auditors"], json!(["1"]));

    let listed = client
        .call_raw::<Value>(
            "tasks.task.list",
            json!({ "filter": { "STATUS": 5 }, "select": ["ID", "TITLE", "UF_CRM_TASK"] }),
        )
        .send_with_meta()
        .await
        .unwrap();
    assert_eq!(listed.total, Some(2));
    let ids: Vec<u64> = listed.result["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| number(&t["id"]))
        .collect();
    assert_eq!(ids, vec![controlled, id]);
    assert_eq!(listed.result["tasks"][1]["ufCrmTask"], json!(["D_1"]));

    assert_eq!(
        call(&client, "tasks.task.delete", json!({ "taskId": id })).await,
        json!({ "task": true })
    );
    assert!(portal.task(id).is_none());
    assert_eq!(
        error_code(&client, "tasks.task.get", json!({ "taskId": "seven" })).await,
        "0"
    );
    assert_eq!(
        error_code(
            &client,
            "tasks.task.add",
            json!({ "fields": { "RESPONSIBLE_ID": 1 } })
        )
        .await,
        "ERROR_CORE"
    );
}

#[tokio::test]
async fn task_events_carry_the_documented_payload() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    // Nobody listens on the discard port: the delivery is recorded as failed, with its form.
    for event in [
        "ONTASKADD",
        "ONTASKUPDATE",
        "ONTASKDELETE",
        "ONTASKCOMMENTADD",
    ] {
        portal.add_outgoing_webhook(event, "http://127.0.0.1:9/hook");
    }
    let id = number(
        &call(
            &client,
            "tasks.task.add",
            json!({ "fields": { "TITLE": "Evented", "RESPONSIBLE_ID": 1 } }),
        )
        .await["task"]["id"],
    );
    call(
        &client,
        "tasks.task.update",
        json!({ "taskId": id, "fields": { "TITLE": "Renamed" } }),
    )
    .await;
    let comment = number(
        &call(
            &client,
            "task.commentitem.add",
            json!({ "TASKID": id, "FIELDS": { "POST_MESSAGE": "Hello" } }),
        )
        .await,
    );
    call(&client, "tasks.task.delete", json!({ "taskId": id })).await;

    let mut deliveries = Vec::new();
    for _ in 0..100 {
        deliveries = portal.deliveries();
        if deliveries.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let form = |event: &str| {
        deliveries
            .iter()
            .find(|d| d.event == event)
            .unwrap_or_else(|| panic!("no {event}"))
            .form
            .clone()
    };
    let field = |form: &[(String, String)], key: &str| {
        form.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    };
    let added = form("ONTASKADD");
    assert_eq!(
        field(&added, "data[FIELDS_BEFORE]").as_deref(),
        Some("undefined")
    );
    assert_eq!(
        field(&added, "data[FIELDS_AFTER][ID]"),
        Some(id.to_string())
    );
    assert_eq!(
        field(&added, "data[IS_ACCESSIBLE_BEFORE]").as_deref(),
        Some("N")
    );
    let updated = form("ONTASKUPDATE");
    assert_eq!(
        field(&updated, "data[FIELDS_BEFORE][ID]"),
        Some(id.to_string())
    );
    let commented = form("ONTASKCOMMENTADD");
    assert_eq!(
        field(&commented, "data[FIELDS_AFTER][ID]"),
        Some(comment.to_string())
    );
    assert_eq!(
        field(&commented, "data[FIELDS_AFTER][TASK_ID]"),
        Some(id.to_string())
    );
    let deleted = form("ONTASKDELETE");
    assert_eq!(
        field(&deleted, "data[FIELDS_AFTER]").as_deref(),
        Some("undefined")
    );
    assert_eq!(
        field(&deleted, "data[IS_ACCESSIBLE_AFTER]").as_deref(),
        Some("N")
    );
}

#[tokio::test]
async fn comments_carry_disk_files() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    let folder = root(&client).await;
    let file = number(&upload(&client, folder, "scan.pdf", b"%PDF-1.4 sandbox").await["ID"]);
    let task = number(
        &call(
            &client,
            "tasks.task.add",
            json!({ "fields": { "TITLE": "Review", "RESPONSIBLE_ID": 1 } }),
        )
        .await["task"]["id"],
    );

    let first = call(&client, "task.commentitem.add", json!({ "TASKID": task, "FIELDS": { "POST_MESSAGE": "See the scan", "UF_FORUM_MESSAGE_DOC": [format!("n{file}")] } })).await;
    assert!(first.is_u64());
    // The positional form of the old API.
    call(
        &client,
        "task.commentitem.add",
        json!({ "0": task, "1": { "POST_MESSAGE": "Thanks", "AUTHOR_ID": 2 } }),
    )
    .await;
    assert_eq!(error_code(&client, "task.commentitem.add", json!({ "TASKID": task, "FIELDS": { "POST_MESSAGE": "x", "UF_FORUM_MESSAGE_DOC": ["n999999"] } })).await, "ERROR_CORE");

    let comments = call(
        &client,
        "task.commentitem.getlist",
        json!({ "TASKID": task, "ORDER": { "ID": "asc" } }),
    )
    .await;
    assert_eq!(comments.as_array().unwrap().len(), 2);
    let attached: Vec<&Value> = comments[0]["ATTACHED_OBJECTS"]
        .as_object()
        .unwrap()
        .values()
        .collect();
    assert_eq!(attached.len(), 1);
    assert_eq!(attached[0]["FILE_ID"], file.to_string());
    assert_eq!(attached[0]["NAME"], "scan.pdf");
    let bytes = download(attached[0]["DOWNLOAD_URL"].as_str().unwrap())
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], b"%PDF-1.4 sandbox");
    assert_eq!(comments[1]["AUTHOR_NAME"], "Anna Smith");

    let inspected = portal.task_comments(task);
    assert_eq!(inspected.len(), 2);
    assert_eq!(inspected[0]["POST_MESSAGE"], "See the scan");
    assert_eq!(portal.task(task).unwrap()["commentsCount"], "2");

    // A task file: `n…` on add, the attachment id back, the Disk file behind it.
    let with_file = call(&client, "tasks.task.add", json!({ "fields": { "TITLE": "With file", "RESPONSIBLE_ID": 1, "UF_TASK_WEBDAV_FILES": [format!("n{file}")] } })).await;
    let with_file = number(&with_file["task"]["id"]);
    let selected = call(
        &client,
        "tasks.task.get",
        json!({ "taskId": with_file, "select": ["UF_TASK_WEBDAV_FILES"] }),
    )
    .await;
    let attachment = selected["task"]["ufTaskWebdavFiles"][0].as_u64().unwrap();
    assert!(
        selected["task"].get("ufCrmTask").is_some()
            && selected["task"].get("ufMailMessage").is_some()
    );
    let object = call(
        &client,
        "disk.attachedObject.get",
        json!({ "id": attachment }),
    )
    .await;
    assert_eq!(number(&object["OBJECT_ID"]), file);
    assert_eq!(portal.task(with_file).unwrap()["diskFiles"], json!([file]));
    let second = call(
        &client,
        "tasks.task.files.attach",
        json!({ "taskId": with_file, "fileId": file }),
    )
    .await;
    assert!(second["attachmentId"].as_u64().unwrap() > attachment);
}

#[tokio::test]
#[allow(clippy::too_many_lines)]
async fn files_upload_inline_and_in_two_steps() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    let folder = number(
        &call(
            &client,
            "disk.folder.addSubFolder",
            json!({ "id": root(&client).await, "data": { "NAME": "Uploads" } }),
        )
        .await["ID"],
    );

    // Inline: the file object comes back with numeric ids; get returns strings.
    let inline = upload(&client, folder, "hello.txt", b"hello, portal").await;
    assert!(inline["ID"].is_u64() && inline["FILE_ID"].is_u64() && inline["SIZE"] == "13");
    let fetched = call(&client, "disk.file.get", json!({ "id": inline["ID"] })).await;
    assert!(fetched["ID"].is_string());
    let response = download(fetched["DOWNLOAD_URL"].as_str().unwrap()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("hello.txt")
    );
    assert_eq!(&response.bytes().await.unwrap()[..], b"hello, portal");
    assert_eq!(
        portal.disk_file(number(&inline["ID"])),
        Some(("hello.txt".to_owned(), b"hello, portal".to_vec()))
    );

    // Two steps: the method hands out an upload URL, the file arrives as multipart.
    let step = call(&client, "disk.folder.uploadFile", json!({ "id": folder })).await;
    assert_eq!(step["field"], "file");
    let url = step["uploadUrl"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{}rest/upload.json?", portal.base_url())));
    // Beyond axum's default 2 MB multipart limit the router would need a `DefaultBodyLimit`.
    let content: Vec<u8> = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
    let (content_type, body) = multipart("file", "big.bin", &content);
    let http = reqwest::Client::new();
    let reply: Value = http
        .post(&url)
        .header("content-type", &content_type)
        .body(body.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let file = &reply["result"];
    assert_eq!(file["NAME"], "big.bin", "{reply}");
    assert!(file["ID"].is_u64());
    assert_eq!(file["SIZE"], content.len().to_string());
    let bytes = download(file["DOWNLOAD_URL"].as_str().unwrap())
        .await
        .bytes()
        .await
        .unwrap();
    assert!(bytes[..] == content[..]);
    // The URL is single-use.
    let again = http
        .post(&url)
        .header("content-type", &content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);

    // Into a storage's root, with the name from step one.
    let storages = call(
        &client,
        "disk.storage.getList",
        json!({ "filter": { "ENTITY_TYPE": "common" } }),
    )
    .await;
    let step = call(
        &client,
        "disk.storage.uploadFile",
        json!({ "id": storages[0]["ID"], "data": { "NAME": "named.txt" } }),
    )
    .await;
    let (content_type, body) = multipart("file", "ignored.txt", b"shared");
    let reply: Value = http
        .post(step["uploadUrl"].as_str().unwrap())
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["result"]["NAME"], "named.txt");
    let children = call(
        &client,
        "disk.storage.getChildren",
        json!({ "id": storages[0]["ID"] }),
    )
    .await;
    assert_eq!(children[0]["NAME"], "named.txt");

    // A forged or deleted file's link is a 404.
    let link = fetched["DOWNLOAD_URL"].as_str().unwrap();
    assert_eq!(
        download(&link.replace("token=disk%7C", "token=disk%7CX"))
            .await
            .status(),
        404
    );
    call(&client, "disk.file.delete", json!({ "id": inline["ID"] })).await;
    assert_eq!(download(link).await.status(), 404);
    assert_eq!(
        error_code(&client, "disk.file.get", json!({ "id": inline["ID"] })).await,
        "ERROR_NOT_FOUND"
    );

    // Uploads are not allowed in batch.
    let batch = call(
        &client,
        "batch",
        json!({ "cmd": { "up": format!("disk.folder.uploadFile?id={folder}") } }),
    )
    .await;
    assert_eq!(
        batch["result_error"]["up"]["error"],
        "ERROR_BATCH_METHOD_NOT_ALLOWED"
    );
}

#[tokio::test]
async fn file_names_are_unique_per_folder() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    let folder = root(&client).await;
    upload(&client, folder, "report.docx", b"one").await;
    let duplicate = error_code(&client, "disk.folder.uploadFile", json!({ "id": folder, "data": { "NAME": "report.docx" }, "fileContent": ["r", base64(b"two")] })).await;
    assert_eq!(duplicate, "DISK_OBJ_22000");
    for expected in ["report (1).docx", "report (2).docx"] {
        let file = call(&client, "disk.folder.uploadFile", json!({ "id": folder, "data": { "NAME": "report.docx" }, "fileContent": ["r", base64(b"two")], "generateUniqueName": true })).await;
        assert_eq!(file["NAME"], expected);
    }
    // Trashed files free their name.
    let trashed = call(
        &client,
        "disk.folder.getChildren",
        json!({ "id": folder, "filter": { "NAME": "report.docx" } }),
    )
    .await;
    let marked = call(
        &client,
        "disk.file.markDeleted",
        json!({ "id": trashed[0]["ID"] }),
    )
    .await;
    assert_eq!(marked["DELETED_TYPE"], "3");
    upload(&client, folder, "report.docx", b"three").await;
    assert_eq!(
        error_code(
            &client,
            "disk.folder.addSubFolder",
            json!({ "id": folder, "data": {} })
        )
        .await,
        "ERROR_ARGUMENT"
    );
    assert_eq!(
        error_code(&client, "disk.folder.get", json!({ "id": 424_242 })).await,
        "ERROR_NOT_FOUND"
    );
}

#[tokio::test]
async fn the_app_storage_needs_an_application() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    let error = client
        .call_raw::<Value>("disk.storage.getForApp", json!({}))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(&ErrorCode::from("ACCESS_DENIED")));
    let app = portal.app_client().unwrap();
    let storage: Value = app
        .call_raw("disk.storage.getForApp", json!({}))
        .await
        .unwrap();
    assert_eq!(storage["ENTITY_TYPE"], "restapp");
    let again: Value = app
        .call_raw("disk.storage.getForApp", json!({}))
        .await
        .unwrap();
    assert_eq!(storage["ID"], again["ID"]);
    let file: Value = app
        .call_raw("disk.storage.uploadFile", json!({ "id": storage["ID"], "data": { "NAME": "app.txt" }, "fileContent": ["app.txt", base64(b"app")] }))
        .await
        .unwrap();
    assert_eq!(file["STORAGE_ID"], storage["ID"]);
}

#[tokio::test]
async fn users_update_user_fields_and_search() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    let me = call(&client, "user.current", json!({})).await;
    assert_eq!(
        (me["ID"].as_str(), me["ACTIVE"].as_bool()),
        (Some("1"), Some(true))
    );

    assert_eq!(
        call(
            &client,
            "user.update",
            json!({ "ID": 2, "UF_TELEGRAM_ID": "tg-555", "WORK_POSITION": "Key accounts" })
        )
        .await,
        json!(true)
    );
    let found = call(
        &client,
        "user.get",
        json!({ "FILTER": { "UF_TELEGRAM_ID": "tg-555" } }),
    )
    .await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["ID"], "2");
    assert_eq!(found[0]["UF_TELEGRAM_ID"], "tg-555");
    assert_eq!(found[0]["UF_DEPARTMENT"], json!([1]));
    assert_eq!(found[0]["IS_ONLINE"], "N");
    let top_level = call(
        &client,
        "user.get",
        json!({ "UF_TELEGRAM_ID": "tg-555", "select": ["ID", "UF_*"] }),
    )
    .await;
    assert_eq!(
        top_level[0],
        json!({ "ID": "2", "UF_TELEGRAM_ID": "tg-555", "UF_DEPARTMENT": [1], "UF_EMPLOYMENT_DATE": "" })
    );

    let by_find = call(
        &client,
        "user.search",
        json!({ "FILTER": { "FIND": "key acc" } }),
    )
    .await;
    assert_eq!(by_find[0]["ID"], "2");
    let by_name = call(&client, "user.search", json!({ "LAST_NAME": "Petr" })).await;
    assert_eq!(by_name[0]["NAME"], "Ivan");

    let id = call(
        &client,
        "user.add",
        json!({ "EMAIL": "new.hire@example.com", "NAME": "New", "LAST_NAME": "Hire" }),
    )
    .await;
    assert!(id.is_u64());
    assert_eq!(
        error_code(&client, "user.add", json!({ "EMAIL": "broken" })).await,
        "ERROR_ARGUMENT"
    );
    assert_eq!(
        error_code(
            &client,
            "user.update",
            json!({ "ID": 9999, "NAME": "Ghost" })
        )
        .await,
        "ERROR_CORE"
    );
    let labels = call(&client, "user.fields", json!({})).await;
    assert_eq!(labels["UF_TELEGRAM_ID"], "UF_TELEGRAM_ID");
    let paged = client
        .call_raw::<Value>("user.get", json!({ "sort": "ID", "order": "DESC" }))
        .send_with_meta()
        .await
        .unwrap();
    assert_eq!(paged.total, Some(5));
    assert_eq!(number(&paged.result[0]["ID"]), id.as_u64().unwrap());
}

#[tokio::test]
async fn files_tasks_and_people_survive_a_snapshot() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    let file = number(&upload(&client, root(&client).await, "kept.txt", b"kept bytes").await["ID"]);
    let task = call(&client, "tasks.task.add", json!({ "fields": { "TITLE": "Kept", "RESPONSIBLE_ID": 3, "UF_TASK_WEBDAV_FILES": [format!("n{file}")] } })).await;
    let task = number(&task["task"]["id"]);
    call(
        &client,
        "task.commentitem.add",
        json!({ "TASKID": task, "FIELDS": { "POST_MESSAGE": "Still here" } }),
    )
    .await;
    call(
        &client,
        "user.update",
        json!({ "ID": 3, "UF_TELEGRAM_ID": "42" }),
    )
    .await;
    let snapshot = portal.snapshot().unwrap();
    drop(portal);

    let restored = SandboxPortal::builder()
        .limits(Limits::unlimited())
        .restore(snapshot)
        .start()
        .await
        .unwrap();
    let client = quick_client(&restored);
    assert_eq!(
        restored.disk_file(file),
        Some(("kept.txt".to_owned(), b"kept bytes".to_vec()))
    );
    assert_eq!(restored.task(task).unwrap()["diskFiles"], json!([file]));
    assert_eq!(
        restored.task_comments(task)[0]["POST_MESSAGE"],
        "Still here"
    );
    let link = call(&client, "disk.file.get", json!({ "id": file })).await["DOWNLOAD_URL"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        &download(&link).await.bytes().await.unwrap()[..],
        b"kept bytes"
    );
    let user = call(&client, "user.get", json!({ "ID": 3 })).await;
    assert_eq!(user[0]["UF_TELEGRAM_ID"], "42");
    let storages = call(&client, "disk.storage.getList", json!({})).await;
    assert_eq!(storages.as_array().unwrap().len(), 5);
}
