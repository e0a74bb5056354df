//! Events, offline events, connectors and open lines, end to end: a real handler on loopback
//! receives what the sandbox POSTs.
#![allow(clippy::too_many_lines)] // scenario tests read top to bottom

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bitrix24::sandbox::SandboxPortal;
use bitrix24::{Client, ErrorCode, Limits, RetryPolicy};
use serde_json::{Value, json};

use crate::support::{call, quick_client, unlimited};

fn app(portal: &SandboxPortal) -> Client {
    Client::builder()
        .oauth(
            portal.oauth_app(),
            portal.install_app().unwrap(),
            bitrix24::auth::MemoryTokenStore::new(),
        )
        .limits(Limits::unlimited())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

/// A POST the handler received: its content type and its form fields.
#[derive(Debug, Clone)]
struct Form {
    content_type: String,
    fields: Vec<(String, String)>,
}

impl Form {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A handler on loopback that answers `status` and keeps every body.
async fn receiver(status: u16) -> (String, Arc<Mutex<Vec<Form>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                let content_type = headers
                    .get(axum::http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let fields = url::form_urlencoded::parse(body.as_bytes())
                    .into_owned()
                    .collect();
                seen.lock().unwrap().push(Form {
                    content_type,
                    fields,
                });
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), bodies)
}

/// Waits (up to 3 s) until the handler got a POST of `event`, and returns it.
async fn arrival(bodies: &Arc<Mutex<Vec<Form>>>, event: &str) -> Form {
    for _ in 0..150 {
        if let Some(form) = bodies
            .lock()
            .unwrap()
            .iter()
            .find(|f| f.get("event") == Some(event))
        {
            assert_eq!(
                form.content_type, "application/x-www-form-urlencoded",
                "events are form posts"
            );
            return form.clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "{event} never arrived; got {:?}",
        bodies
            .lock()
            .unwrap()
            .iter()
            .map(|f| f.get("event").map(str::to_owned))
            .collect::<Vec<_>>()
    );
}

async fn fails(client: &Client, method: &str, params: Value) -> bitrix24::Error {
    match client.call_raw::<Value>(method, params).await {
        Ok(result) => panic!("{method} succeeded: {result}"),
        Err(error) => error,
    }
}

#[tokio::test]
async fn bound_events_arrive_as_form_posts_with_the_application_token() {
    let portal = unlimited().await;
    let (url, bodies) = receiver(200).await;
    let app = app(&portal);
    let hook = quick_client(&portal);
    assert_eq!(
        call(
            &app,
            "event.bind",
            json!({ "event": "ONCRMLEADADD", "handler": url })
        )
        .await,
        json!(true)
    );
    let duplicate = fails(
        &app,
        "event.bind",
        json!({ "event": "ONCRMLEADADD", "handler": url }),
    )
    .await;
    assert!(
        duplicate
            .api()
            .unwrap()
            .description
            .starts_with("Unable to set event handler"),
        "{duplicate}"
    );
    let unknown = fails(
        &app,
        "event.bind",
        json!({ "event": "ONNOTHING", "handler": url }),
    )
    .await;
    assert_eq!(
        (unknown.code().map(ErrorCode::as_str), unknown.http_status()),
        (Some("ERROR_EVENT_NOT_FOUND"), Some(400))
    );
    let refused = fails(
        &hook,
        "event.bind",
        json!({ "event": "ONCRMLEADADD", "handler": url }),
    )
    .await;
    assert_eq!(
        (refused.code(), refused.http_status()),
        (Some(&ErrorCode::WrongAuthType), Some(403))
    );
    let bound = call(&app, "event.get", json!({})).await;
    assert_eq!(
        bound,
        json!([{ "event": "ONCRMLEADADD", "handler": url, "auth_type": "0", "offline": 0 }])
    );

    let id: u64 = hook
        .call_raw(
            "crm.lead.add",
            json!({ "fields": { "TITLE": "From the form" } }),
        )
        .await
        .unwrap();
    let form = arrival(&bodies, "ONCRMLEADADD").await;
    assert_eq!(form.get("data[FIELDS][ID]"), Some(id.to_string().as_str()));
    assert_eq!(
        form.get("auth[application_token]"),
        Some(portal.application_token().expose_secret())
    );
    assert_eq!(form.get("auth[member_id]"), Some(portal.member_id()));
    assert_eq!(
        form.get("auth[user_id]"),
        Some("1"),
        "the acting user's token"
    );
    assert!(
        form.get("auth[access_token]")
            .is_some_and(|t| !t.is_empty())
    );
    assert!(form.get("event_handler_id").is_some() && form.get("ts").is_some());

    assert_eq!(
        call(
            &app,
            "event.unbind",
            json!({ "event": "ONCRMLEADADD", "handler": url })
        )
        .await,
        json!({ "count": 1 })
    );
    assert_eq!(call(&app, "event.get", json!({})).await, json!([]));
}

#[tokio::test]
async fn a_failing_handler_is_not_retried() {
    let portal = unlimited().await;
    let (url, bodies) = receiver(500).await;
    let app = app(&portal);
    call(
        &app,
        "event.bind",
        json!({ "event": "ONCRMDEALADD", "handler": url }),
    )
    .await;
    call(
        &quick_client(&portal),
        "crm.deal.add",
        json!({ "fields": { "TITLE": "Deal" } }),
    )
    .await;
    arrival(&bodies, "ONCRMDEALADD").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let deliveries = portal.deliveries();
    assert_eq!(deliveries.len(), 1, "one attempt only: {deliveries:?}");
    assert_eq!(deliveries[0].status, Some(500));
    assert_eq!(bodies.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn event_test_delivers_onapptest_with_the_query() {
    let portal = unlimited().await;
    let (url, bodies) = receiver(200).await;
    let app = app(&portal);
    call(
        &app,
        "event.bind",
        json!({ "event": "ONAPPTEST", "handler": url }),
    )
    .await;
    assert_eq!(
        call(&app, "event.test", json!({ "any": "data" })).await,
        json!(1)
    );
    let form = arrival(&bodies, "ONAPPTEST").await;
    assert_eq!(form.get("data[QUERY][any]"), Some("data"));
    let refused = fails(&quick_client(&portal), "event.test", json!({})).await;
    assert_eq!(refused.code(), Some(&ErrorCode::WrongAuthType));
    let scoped = call(&app, "events", json!({ "SCOPE": "imconnector" })).await;
    assert!(
        scoped
            .as_array()
            .unwrap()
            .contains(&json!("ONIMCONNECTORMESSAGEADD"))
    );
}

#[tokio::test]
async fn offline_events_queue_and_are_fetched_with_a_process_id() {
    let portal = unlimited().await;
    let (url, bodies) = receiver(200).await;
    let app = app(&portal);
    let hook = quick_client(&portal);
    call(
        &app,
        "event.bind",
        json!({ "event": "ONCRMLEADADD", "event_type": "offline" }),
    )
    .await;
    call(
        &app,
        "event.bind",
        json!({ "event": "ONCRMLEADUPDATE", "event_type": "offline" }),
    )
    .await;
    call(
        &app,
        "event.bind",
        json!({ "event": "ONOFFLINEEVENT", "handler": url, "options": { "minTimeout": 0 } }),
    )
    .await;
    assert_eq!(
        call(&app, "event.get", json!({}))
            .await
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let first: u64 = hook
        .call_raw("crm.lead.add", json!({ "fields": { "TITLE": "A" } }))
        .await
        .unwrap();
    let second: u64 = hook
        .call_raw("crm.lead.add", json!({ "fields": { "TITLE": "B" } }))
        .await
        .unwrap();
    for title in ["A1", "A2", "A3"] {
        call(
            &hook,
            "crm.lead.update",
            json!({ "id": first, "fields": { "TITLE": title } }),
        )
        .await;
    }
    let notice = arrival(&bodies, "ONOFFLINEEVENT").await;
    assert_eq!(
        notice.get("auth[application_token]"),
        Some(portal.application_token().expose_secret())
    );
    assert!(
        bodies
            .lock()
            .unwrap()
            .iter()
            .all(|f| f.get("event") == Some("ONOFFLINEEVENT")),
        "offline events are not POSTed"
    );
    let mut listed = Value::Null;
    for _ in 0..100 {
        let response = app
            .call_raw::<Value>("event.offline.list", json!({}))
            .send_with_meta()
            .await
            .unwrap();
        if response.total == Some(3) {
            listed = response.result;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let names: Vec<&str> = listed
        .as_array()
        .expect("three rows: two adds and one update")
        .iter()
        .map(|r| r["EVENT_NAME"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["ONCRMLEADADD", "ONCRMLEADADD", "ONCRMLEADUPDATE"],
        "1000 updates of one object leave one row"
    );

    let reserved = call(&app, "event.offline.get", json!({ "clear": 0, "limit": 2 })).await;
    let process = reserved["process_id"].as_str().unwrap().to_owned();
    let rows = reserved["events"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["EVENT_DATA"]["FIELDS"]["ID"], json!(first));
    assert_eq!(rows[1]["EVENT_DATA"]["FIELDS"]["ID"], json!(second));
    for key in [
        "ID",
        "TIMESTAMP_X",
        "EVENT_NAME",
        "EVENT_DATA",
        "EVENT_ADDITIONAL",
        "MESSAGE_ID",
    ] {
        assert!(rows[0].get(key).is_some(), "{key}");
    }
    let others = call(&app, "event.offline.get", json!({ "clear": 0 })).await;
    assert_eq!(
        others["events"].as_array().unwrap().len(),
        1,
        "reserved rows are hidden from other processes"
    );
    let again = call(
        &app,
        "event.offline.get",
        json!({ "clear": 0, "process_id": process }),
    )
    .await;
    assert_eq!(
        again["events"].as_array().unwrap().len(),
        2,
        "the same process sees its rows again"
    );

    let failed = rows[1]["MESSAGE_ID"].clone();
    call(
        &app,
        "event.offline.error",
        json!({ "process_id": process, "message_id": [failed] }),
    )
    .await;
    call(
        &app,
        "event.offline.clear",
        json!({ "process_id": process, "id": [rows[0]["ID"]] }),
    )
    .await;
    let left = call(
        &app,
        "event.offline.list",
        json!({ "order": { "ID": "ASC" } }),
    )
    .await;
    let left = left.as_array().unwrap();
    assert_eq!(left.len(), 2);
    assert_eq!(
        (left[0]["ERROR"].as_str(), left[0]["PROCESS_ID"].as_str()),
        (Some("1"), Some(""))
    );
    let errors = call(&app, "event.offline.get", json!({ "error": 1 })).await;
    assert_eq!(
        errors["process_id"],
        Value::Null,
        "clear=1 reserves nothing"
    );
    assert_eq!(errors["events"].as_array().unwrap().len(), 1);
    assert_eq!(
        fails(&hook, "event.offline.get", json!({})).await.code(),
        Some(&ErrorCode::WrongAuthType)
    );
}

/// Registers `myconn`, binds `ONIMCONNECTORMESSAGEADD` to `handler`, activates line 1 and sets
/// the channel data: the documented setup order.
async fn connect(app: &Client, handler: &str) {
    let registered = call(
        app,
        "imconnector.register",
        json!({
            "ID": "myconn",
            "NAME": "My connector",
            "ICON": { "DATA_IMAGE": "data:image/svg+xml,%3Csvg%20xmlns%3D%22http://www.w3.org/2000/svg%22/%3E", "COLOR": "#69acc0" },
            "PLACEMENT_HANDLER": "https://example.com/connector/settings",
        }),
    )
    .await;
    assert_eq!(registered, json!({ "result": true }));
    for event in [
        "ONIMCONNECTORMESSAGEADD",
        "ONIMCONNECTORMESSAGEUPDATE",
        "ONIMCONNECTORMESSAGEDELETE",
        "ONIMCONNECTORDIALOGSTART",
        "ONSESSIONSTART",
    ] {
        call(
            app,
            "event.bind",
            json!({ "event": event, "handler": handler }),
        )
        .await;
    }
    assert_eq!(
        call(
            app,
            "imconnector.activate",
            json!({ "CONNECTOR": "myconn", "LINE": 1, "ACTIVE": 1 })
        )
        .await,
        json!(true)
    );
    let data = json!({ "ID": "channel-1", "URL": "https://example.com/c/1", "NAME": "Support" });
    assert_eq!(
        call(
            app,
            "imconnector.connector.data.set",
            json!({ "CONNECTOR": "myconn", "LINE": 1, "DATA": data })
        )
        .await,
        json!(true)
    );
    let status = call(
        app,
        "imconnector.status",
        json!({ "CONNECTOR": "myconn", "LINE": 1 }),
    )
    .await;
    assert_eq!(
        status,
        json!({ "LINE": 1, "CONNECTOR": "myconn", "ERROR": false, "CONFIGURED": true, "STATUS": true })
    );
}

fn customer_message(user: &str, chat: &str, id: &str, text: &str) -> Value {
    json!({
        "user": { "id": user, "name": "Ivan", "last_name": "Petrov", "phone": "+79990000042", "email": "ivan@example.com" },
        "message": { "id": id, "date": 1_773_265_993, "text": text },
        "chat": { "id": chat, "name": "Support", "url": "https://example.com/c/1" },
    })
}

#[tokio::test]
async fn connector_methods_refuse_webhooks() {
    let portal = unlimited().await;
    let hook = quick_client(&portal);
    for method in [
        "imconnector.register",
        "imconnector.unregister",
        "imconnector.activate",
        "imconnector.status",
        "imconnector.connector.data.set",
        "imconnector.list",
        "imconnector.send.messages",
        "imconnector.update.messages",
        "imconnector.delete.messages",
        "imconnector.send.status.delivery",
        "imconnector.send.status.reading",
        "imconnector.chat.name.set",
    ] {
        let error = fails(&hook, method, json!({ "CONNECTOR": "myconn", "LINE": 1 })).await;
        assert_eq!(
            (error.code(), error.http_status()),
            (Some(&ErrorCode::WrongAuthType), Some(403)),
            "{method}"
        );
        assert_eq!(
            error.api().unwrap().description,
            "Current authorization type is denied for this method Application context required"
        );
    }
}

#[tokio::test]
async fn customer_messages_open_a_chat_a_session_and_a_lead() {
    let portal = unlimited().await;
    let (url, bodies) = receiver(200).await;
    let app = app(&portal);
    let hook = quick_client(&portal);
    let inactive = fails(&app, "imconnector.send.messages", json!({ "CONNECTOR": "myconn", "LINE": 1, "MESSAGES": [customer_message("u42", "tg-42", "m1", "Hi")] })).await;
    assert_eq!(
        inactive.code().map(ErrorCode::as_str),
        Some("IMCONNECTOR_NO_CORRECT_PROVIDER")
    );
    connect(&app, &url).await;

    let reply = call(&app, "imconnector.send.messages", json!({ "CONNECTOR": "myconn", "LINE": 1, "MESSAGES": [customer_message("u42", "tg-42", "m1", "Hi")] })).await;
    assert_eq!(reply["SUCCESS"], true);
    let item = &reply["DATA"]["RESULT"][0];
    assert_eq!(item["SUCCESS"], true);
    assert_eq!(item["message"]["id"], "m1");
    let chat_id = item["session"]["CHAT_ID"].as_str().unwrap().to_owned();
    let session_id = item["session"]["ID"].as_str().unwrap().to_owned();

    let start = arrival(&bodies, "ONIMCONNECTORDIALOGSTART").await;
    assert_eq!(start.get("data[CONNECTOR]"), Some("myconn"));
    assert_eq!(
        start.get("data[DATA][0][session][id]"),
        Some(session_id.as_str())
    );
    assert_eq!(start.get("data[DATA][0][chat][id]"), Some(chat_id.as_str()));
    arrival(&bodies, "ONSESSIONSTART").await;

    let leads = call(
        &hook,
        "crm.lead.list",
        json!({ "filter": { "PHONE": "+79990000042" }, "select": ["ID", "NAME", "IM"] }),
    )
    .await;
    let lead = &leads.as_array().expect("the tracker created a lead")[0];
    assert_eq!(lead["NAME"], "Ivan");
    assert_eq!(lead["IM"][0]["VALUE"], "imol|myconn|1|tg-42|u42");
    let chats = call(
        &hook,
        "imopenlines.crm.chat.get",
        json!({ "CRM_ENTITY_TYPE": "lead", "CRM_ENTITY": lead["ID"] }),
    )
    .await;
    assert_eq!(chats[0]["CHAT_ID"], chat_id);

    // The same customer again: the same chat and session.
    let again = call(&app, "imconnector.send.messages", json!({ "CONNECTOR": "myconn", "LINE": 1, "MESSAGES": [customer_message("u42", "tg-42", "m2", "Still there?")] })).await;
    assert_eq!(
        again["DATA"]["RESULT"][0]["session"]["ID"],
        session_id.as_str()
    );
    let dialog = call(
        &hook,
        "imopenlines.dialog.get",
        json!({ "USER_CODE": "myconn|1|tg-42|u42" }),
    )
    .await;
    assert_eq!(dialog["id"].to_string(), chat_id);
    assert_eq!(
        dialog["entity_data_1"].as_str().unwrap().split('|').nth(5),
        Some(session_id.as_str())
    );
    let history = call(
        &hook,
        "imopenlines.session.history.get",
        json!({ "SESSION_ID": session_id }),
    )
    .await;
    let texts: Vec<&str> = history["message"]
        .as_object()
        .unwrap()
        .values()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert!(
        texts.contains(&"Hi") && texts.contains(&"Still there?"),
        "{texts:?}"
    );
    assert_eq!(
        portal.crm_rows("lead").len(),
        1,
        "no second lead for the same customer"
    );

    // The operator closes the dialog; the next message opens a new session.
    call(
        &hook,
        "imopenlines.operator.finish",
        json!({ "CHAT_ID": chat_id }),
    )
    .await;
    let reopened = call(&app, "imconnector.send.messages", json!({ "CONNECTOR": "myconn", "LINE": 1, "MESSAGES": [customer_message("u42", "tg-42", "m3", "Me again")] })).await;
    assert_ne!(
        reopened["DATA"]["RESULT"][0]["session"]["ID"],
        session_id.as_str()
    );
    assert_eq!(
        reopened["DATA"]["RESULT"][0]["session"]["CHAT_ID"],
        chat_id.as_str()
    );
    let sessions = portal.openline_sessions("tg-42");
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0]["closed"], true);
}

#[tokio::test]
async fn operator_replies_reach_the_connector_in_the_documented_shape() {
    let portal = unlimited().await;
    let (url, bodies) = receiver(200).await;
    let app = app(&portal);
    connect(&app, &url).await;
    let reply = call(&app, "imconnector.send.messages", json!({ "CONNECTOR": "myconn", "LINE": 1, "MESSAGES": [customer_message("u7", "tg-7", "m1", "Where is my order?")] })).await;
    let chat_id = reply["DATA"]["RESULT"][0]["session"]["CHAT_ID"]
        .as_str()
        .unwrap()
        .to_owned();

    let files = [(
        "invoice.pdf".to_owned(),
        "https://example.com/invoice.pdf".to_owned(),
    )];
    let message_id = portal
        .operator_reply("tg-7", "On its way", &files)
        .await
        .unwrap();
    let form = arrival(&bodies, "ONIMCONNECTORMESSAGEADD").await;
    assert_eq!(form.get("data[CONNECTOR]"), Some("myconn"));
    assert_eq!(form.get("data[LINE]"), Some("1"));
    assert_eq!(
        form.get("data[MESSAGES][0][im][chat_id]"),
        Some(chat_id.as_str())
    );
    assert_eq!(
        form.get("data[MESSAGES][0][im][message_id]"),
        Some(message_id.to_string().as_str())
    );
    assert_eq!(form.get("data[MESSAGES][0][message][user_id]"), Some("1"));
    assert_eq!(
        form.get("data[MESSAGES][0][message][text]"),
        Some("[b]John Doe:[/b] [br]On its way")
    );
    assert_eq!(form.get("data[MESSAGES][0][chat][id]"), Some("tg-7"));
    assert_eq!(
        form.get("data[MESSAGES][0][message][files][0][name]"),
        Some("invoice.pdf")
    );
    assert_eq!(
        form.get("data[MESSAGES][0][message][files][0][link]"),
        Some("https://example.com/invoice.pdf")
    );
    assert_eq!(
        form.get("auth[application_token]"),
        Some(portal.application_token().expose_secret())
    );
    assert_eq!(form.get("auth[user_id]"), Some("1"));
    assert!(portal.operator_reply("nobody", "x", &[]).await.is_err());

    // The connector confirms delivery with the channel's own message id.
    let delivered = call(
        &app,
        "imconnector.send.status.delivery",
        json!({
            "CONNECTOR": "myconn", "LINE": 1,
            "MESSAGES": [{ "im": { "chat_id": chat_id, "message_id": message_id }, "message": { "id": ["tg-msg-99"], "date": 1_773_266_000 }, "chat": { "id": "tg-7" } }],
        }),
    )
    .await;
    assert_eq!(delivered, json!({ "SUCCESS": true, "DATA": [] }));
    let statuses = portal.delivery_statuses();
    assert_eq!(
        (
            statuses[0]["kind"].as_str(),
            statuses[0]["message_id"].as_u64()
        ),
        (Some("delivery"), Some(message_id))
    );
    let messages = portal.openline_messages("tg-7");
    let directions: Vec<&str> = messages
        .iter()
        .map(|m| m["direction"].as_str().unwrap())
        .collect();
    assert_eq!(
        directions,
        ["system", "in", "out"],
        "the lead notice, the customer, the operator"
    );
    assert_eq!(messages[2]["delivered"], true);
    assert_eq!(
        messages[2]["files"],
        json!([{ "name": "invoice.pdf", "url": "https://example.com/invoice.pdf" }])
    );

    portal
        .operator_edit(message_id, "Delivered tomorrow")
        .await
        .unwrap();
    let update = arrival(&bodies, "ONIMCONNECTORMESSAGEUPDATE").await;
    assert_eq!(
        update.get("data[MESSAGES][0][message][id][0]"),
        Some("tg-msg-99")
    );
    assert_eq!(
        update.get("data[MESSAGES][0][message][text]"),
        Some("[b]John Doe:[/b] [br]Delivered tomorrow")
    );
    portal.operator_delete(message_id).await.unwrap();
    let delete = arrival(&bodies, "ONIMCONNECTORMESSAGEDELETE").await;
    assert_eq!(
        delete.get("data[MESSAGES][0][message][id]"),
        Some("tg-msg-99")
    );
    assert!(portal.operator_delete(message_id).await.is_err());
    assert_eq!(portal.openline_messages("tg-7")[2]["deleted"], true);
}

#[tokio::test]
async fn a_system_notice_posted_into_an_open_line_chat_stays_in_that_chat() {
    let portal = unlimited().await;
    let (url, _bodies) = receiver(200).await;
    let app = app(&portal);
    connect(&app, &url).await;
    let reply = call(&app, "imconnector.send.messages", json!({ "CONNECTOR": "myconn", "LINE": 1, "MESSAGES": [customer_message("u5", "tg-5", "m1", "Hi")] })).await;
    let chat_id = reply["DATA"]["RESULT"][0]["session"]["CHAT_ID"]
        .as_str()
        .unwrap()
        .to_owned();
    call(
        &app,
        "im.message.add",
        json!({ "DIALOG_ID": format!("chat{chat_id}"), "MESSAGE": "Not delivered: the customer blocked the bot", "SYSTEM": "Y" }),
    )
    .await;
    let messages = portal.openline_messages("tg-5");
    let notice = messages.last().unwrap();
    assert_eq!(notice["direction"], "system", "{messages:?}");
    assert_eq!(
        notice["text"],
        "Not delivered: the customer blocked the bot"
    );
    // A plain message into an unrelated chat changes no open line.
    call(
        &app,
        "im.message.add",
        json!({ "DIALOG_ID": "chat999", "MESSAGE": "elsewhere" }),
    )
    .await;
    assert_eq!(portal.openline_messages("tg-5").len(), messages.len());
}
