//! End-to-end tests of the sandbox's `crm` and `im` methods, through the SDK client.

use std::time::Duration;

use bitrix24::sandbox::SandboxPortal;
use bitrix24::{Client, Limits};
use serde_json::{Value, json};

use crate::support::{call, quick_client, unlimited};

const GIF: &str = "R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==";

async fn error(client: &Client, method: &str, params: Value) -> (String, Option<u16>, String) {
    let Err(error) = client.call_raw::<Value>(method, params).await else {
        panic!("{method} succeeded")
    };
    let code = error
        .code()
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default();
    let description = error
        .api()
        .map(|api| api.description.clone())
        .unwrap_or_default();
    (code, error.http_status(), description)
}

#[tokio::test]
async fn old_and_universal_methods_share_the_rows() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    let id = call(
        &client,
        "crm.lead.add",
        json!({ "fields": { "TITLE": "Old way", "OPPORTUNITY": 1500, "STATUS_ID": "IN_PROCESS", "ASSIGNED_BY_ID": 2,
                            "PHONE": [{ "VALUE": "+7 999 111-22-33", "VALUE_TYPE": "WORK" }] } }),
    )
    .await;
    let item = call(
        &client,
        "crm.item.get",
        json!({ "entityTypeId": 1, "id": id }),
    )
    .await["item"]
        .clone();
    assert_eq!(item["id"], id);
    assert_eq!(
        (item["title"].as_str(), item["stageId"].as_str()),
        (Some("Old way"), Some("IN_PROCESS"))
    );
    assert_eq!(
        (item["opportunity"].clone(), item["assignedById"].clone()),
        (json!(1500), json!(2))
    );
    assert_eq!(item["fm"][0]["value"], "+7 999 111-22-33");
    assert_eq!(item["entityTypeId"], 1);

    let created = call(
        &client,
        "crm.item.add",
        json!({ "entityTypeId": 1, "fields": { "title": "New way", "STAGE_ID": "NEW", "opportunity": 99.5, "originId": "form-7" } }),
    )
    .await["item"]
        .clone();
    let new_id = created["id"].as_u64().unwrap();
    let lead = call(&client, "crm.lead.get", json!({ "id": new_id })).await;
    assert_eq!(
        (lead["TITLE"].as_str(), lead["STATUS_ID"].as_str()),
        (Some("New way"), Some("NEW"))
    );
    assert_eq!(
        (lead["OPPORTUNITY"].as_str(), lead["ORIGIN_ID"].as_str()),
        (Some("99.50"), Some("form-7"))
    );
    assert_eq!(lead["ID"], new_id.to_string());

    let updated = call(
        &client,
        "crm.item.update",
        json!({ "entityTypeId": 1, "id": id, "fields": { "title": "Renamed" } }),
    )
    .await;
    assert_eq!(updated["item"]["title"], "Renamed");
    assert_eq!(
        call(&client, "crm.lead.get", json!({ "id": id })).await["TITLE"],
        "Renamed"
    );
    call(
        &client,
        "crm.lead.update",
        json!({ "id": new_id, "fields": { "STATUS_ID": "JUNK" } }),
    )
    .await;
    let moved = call(
        &client,
        "crm.item.get",
        json!({ "entityTypeId": 1, "id": new_id }),
    )
    .await["item"]
        .clone();
    assert_eq!(
        (moved["stageId"].as_str(), moved["stageSemanticId"].as_str()),
        (Some("JUNK"), Some("F"))
    );
    assert_eq!(
        call(
            &client,
            "crm.item.delete",
            json!({ "entityTypeId": 1, "id": id })
        )
        .await,
        json!([])
    );
    let (code, _, description) = error(&client, "crm.lead.get", json!({ "id": id })).await;
    assert_eq!((code.as_str(), description.as_str()), ("", "Not found"));
    assert_eq!(portal.crm_rows("lead").len(), 1);
}

#[tokio::test]
async fn multi_fields_change_through_both_apis() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    let id = call(
        &client,
        "crm.contact.add",
        json!({ "fields": { "NAME": "Ann", "PHONE": [{ "VALUE": "111", "VALUE_TYPE": "WORK" }, { "VALUE": "222", "VALUE_TYPE": "HOME" }],
                            "EMAIL": [{ "VALUE": "ann@example.com", "VALUE_TYPE": "WORK" }] } }),
    )
    .await;
    let fm = call(
        &client,
        "crm.item.get",
        json!({ "entityTypeId": 3, "id": id }),
    )
    .await["item"]["fm"]
        .clone();
    let id_of = |value: &str| {
        fm.as_array()
            .unwrap()
            .iter()
            .find(|f| f["value"] == value)
            .unwrap()["id"]
            .as_u64()
            .unwrap()
    };
    let (first, second, mail) = (id_of("111"), id_of("222"), id_of("ann@example.com"));

    let item = call(
        &client,
        "crm.item.update",
        json!({ "entityTypeId": 3, "id": id, "fields": { "fm": {
            first.to_string(): { "typeId": "PHONE", "valueType": "MOBILE", "value": "333" },
            mail.to_string(): { "typeId": "EMAIL", "value": "" },
            "n0": { "typeId": "WEB", "valueType": "WORK", "value": "example.com" } } } }),
    )
    .await["item"]
        .clone();
    assert_eq!(
        (item["phoneMobile"].as_str(), item["hasEmail"].as_str()),
        (Some("333"), Some("N"))
    );
    let contact = call(&client, "crm.contact.get", json!({ "id": id })).await;
    assert_eq!(contact["PHONE"][0]["VALUE"], "333");
    assert_eq!(contact["PHONE"][0]["VALUE_TYPE"], "MOBILE");
    assert!(contact.get("EMAIL").is_none(), "{contact}");
    assert_eq!(
        (
            contact["WEB"][0]["VALUE"].as_str(),
            contact["HAS_EMAIL"].as_str()
        ),
        (Some("example.com"), Some("N"))
    );

    // And back through the old method: change one, delete one, add one.
    call(
        &client,
        "crm.contact.update",
        json!({ "id": id, "fields": { "PHONE": [{ "ID": first, "VALUE": "444" }, { "ID": second, "DELETE": "Y" }, { "VALUE": "555" }] } }),
    )
    .await;
    let item = call(
        &client,
        "crm.item.get",
        json!({ "entityTypeId": 3, "id": id }),
    )
    .await["item"]
        .clone();
    let phones: Vec<&str> = item["fm"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["typeId"] == "PHONE")
        .map(|f| f["value"].as_str().unwrap())
        .collect();
    assert_eq!(phones, vec!["444", "555"]);
    assert_eq!(item["fm"][0]["id"], first);
}

#[tokio::test]
async fn item_lists_page_filter_and_skip_the_count() {
    let portal = SandboxPortal::builder()
        .limits(Limits::unlimited())
        .seed_leads(120)
        .start()
        .await
        .unwrap();
    let client = quick_client(&portal);
    let first = client
        .call_raw::<Value>(
            "crm.item.list",
            json!({ "entityTypeId": 1, "select": ["id", "title", "stageId"] }),
        )
        .send_with_meta()
        .await
        .unwrap();
    let items = first.result["items"].as_array().unwrap();
    assert_eq!(
        (items.len(), first.total, first.next),
        (50, Some(120), Some(50))
    );
    assert_eq!(
        items[0],
        json!({ "id": 1, "title": "Lead #1", "stageId": "IN_PROCESS" })
    );
    let last = client
        .call_raw::<Value>("crm.item.list", json!({ "entityTypeId": 1, "start": 100 }))
        .send_with_meta()
        .await
        .unwrap();
    assert_eq!(
        (last.result["items"].as_array().unwrap().len(), last.next),
        (20, None)
    );
    assert!(last.result["items"][0]["fm"].is_array(), "`*` brings `fm`");

    let keyset = client
        .call_raw::<Value>(
            "crm.item.list",
            json!({ "entityTypeId": 1, "order": { "id": "ASC" }, "filter": { ">id": 110 }, "select": ["id"], "start": -1 }),
        )
        .send_with_meta()
        .await
        .unwrap();
    assert_eq!(
        (
            keyset.result["items"].as_array().unwrap().len(),
            keyset.total,
            keyset.next
        ),
        (10, None, None)
    );
    assert_eq!(keyset.result["items"][0]["id"], 111);

    let filtered = client
        .call_raw::<Value>(
            "crm.item.list",
            json!({ "entityTypeId": 1, "filter": { "STATUS_ID": "JUNK", "<=opportunity": 3000 }, "order": { "opportunity": "DESC" }, "select": ["opportunity"] }),
        )
        .send_with_meta()
        .await
        .unwrap();
    let amounts: Vec<i64> = filtered.result["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["opportunity"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, vec![3000, 3000], "leads 3 and 103");
    let (code, status, description) = error(
        &client,
        "crm.item.list",
        json!({ "entityTypeId": 1, "filter": { "FIELD": 1 } }),
    )
    .await;
    assert_eq!((code.as_str(), status), ("INVALID_ARG_VALUE", Some(400)));
    assert_eq!(
        description,
        "Invalid filter: field 'FIELD' is not allowed in filter"
    );
}

#[tokio::test]
async fn lead_list_filters_by_origin_id_for_exactly_once_intake() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    for origin in ["site-1", "site-2"] {
        call(&client, "crm.lead.add", json!({ "fields": { "TITLE": origin, "ORIGINATOR_ID": "website", "ORIGIN_ID": origin } })).await;
    }
    let found = call(&client, "crm.lead.list", json!({ "filter": { "ORIGINATOR_ID": "website", "ORIGIN_ID": "site-2" }, "select": ["ID", "ORIGIN_ID"] })).await;
    assert_eq!(found, json!([{ "ID": "2", "ORIGIN_ID": "site-2" }]));
    let none = call(
        &client,
        "crm.lead.list",
        json!({ "filter": { "ORIGIN_ID": "site-3" } }),
    )
    .await;
    assert_eq!(none, json!([]));
}

#[tokio::test]
async fn timeline_comments_keep_their_files() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    let deal = call(
        &client,
        "crm.deal.add",
        json!({ "fields": { "TITLE": "Deal" } }),
    )
    .await;
    let comment = call(
        &client,
        "crm.timeline.comment.add",
        json!({ "fields": { "ENTITY_ID": deal, "ENTITY_TYPE": "deal", "COMMENT": "See the files", "FILES": [["pixel.gif", GIF], ["note.txt", "aGVsbG8="]] } }),
    )
    .await;
    let got = call(
        &client,
        "crm.timeline.comment.get",
        json!({ "id": comment }),
    )
    .await;
    assert_eq!(
        (
            got["COMMENT"].as_str(),
            got["ENTITY_ID"].as_str(),
            got["AUTHOR_ID"].as_str()
        ),
        (Some("See the files"), Some("1"), Some("1"))
    );
    let files = got["FILES"].as_object().unwrap();
    assert_eq!(files.len(), 2);
    let (gif_id, gif) = files
        .iter()
        .find(|(_, f)| f["name"] == "pixel.gif")
        .unwrap();
    assert_eq!(
        (
            gif["type"].as_str(),
            gif["size"].as_u64(),
            gif["image"].clone()
        ),
        (Some("image"), Some(43), json!({ "width": 1, "height": 1 }))
    );
    let (txt_id, txt) = files.iter().find(|(_, f)| f["name"] == "note.txt").unwrap();
    assert_eq!(txt["type"], "file");
    assert_eq!(
        portal.crm_file(txt_id.parse().unwrap()),
        Some(("note.txt".to_owned(), b"hello".to_vec()))
    );
    assert_eq!(
        portal.crm_file(gif_id.parse().unwrap()).unwrap().1.len(),
        43
    );

    let listed = client
        .call_raw::<Vec<Value>>(
            "crm.timeline.comment.list",
            json!({ "filter": { "ENTITY_ID": deal, "ENTITY_TYPE": "deal" } }),
        )
        .send_with_meta()
        .await
        .unwrap();
    assert_eq!((listed.result.len(), listed.total), (1, Some(1)));
    assert_eq!(
        call(
            &client,
            "crm.timeline.comment.update",
            json!({ "id": comment, "fields": { "COMMENT": "Changed" } })
        )
        .await,
        json!(comment)
    );
    assert_eq!(
        call(
            &client,
            "crm.timeline.comment.get",
            json!({ "id": comment })
        )
        .await["FILES"]
            .as_object()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        call(
            &client,
            "crm.timeline.comment.delete",
            json!({ "id": comment, "ownerTypeId": 2, "ownerId": deal })
        )
        .await,
        Value::Null
    );

    let (code, _, description) = error(
        &client,
        "crm.timeline.comment.get",
        json!({ "id": comment }),
    )
    .await;
    assert_eq!((code.as_str(), description.as_str()), ("", "Not found."));
}

#[tokio::test]
async fn timeline_comment_errors() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    let deal = call(
        &client,
        "crm.deal.add",
        json!({ "fields": { "TITLE": "Deal" } }),
    )
    .await;
    let (code, _, description) = error(
        &client,
        "crm.timeline.comment.add",
        json!({ "FIELDS": { "ENTITY_ID": deal, "ENTITY_TYPE": "deal", "COMMENT": "x" } }),
    )
    .await;
    assert_eq!(
        (code.as_str(), description.as_str()),
        ("100", "Could not find value for parameter {fields}")
    );
    let (code, ..) = error(
        &client,
        "crm.timeline.comment.add",
        json!({ "fields": { "ENTITY_ID": 999, "ENTITY_TYPE": "deal", "COMMENT": "x" } }),
    )
    .await;
    assert_eq!(code, "OWNER_NOT_FOUND");
    let (code, ..) = error(
        &client,
        "crm.timeline.comment.add",
        json!({ "fields": { "ENTITY_ID": deal, "ENTITY_TYPE": "deal" } }),
    )
    .await;
    assert_eq!(code, "INVALID_ARG_VALUE");
}

#[tokio::test]
async fn comment_events_reach_handlers() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    // Nobody listens there: the delivery is still recorded, with its form.
    let _ = portal.add_outgoing_webhook("ONCRMTIMELINECOMMENTADD", "http://127.0.0.1:9/handler");
    let _ = portal.add_outgoing_webhook("ONCRMLEADADD", "http://127.0.0.1:9/handler");
    let _ = portal.add_outgoing_webhook("ONCRMDYNAMICITEMADD", "http://127.0.0.1:9/handler");
    let lead = call(
        &client,
        "crm.item.add",
        json!({ "entityTypeId": 1, "fields": { "title": "Evented" } }),
    )
    .await["item"]["id"]
        .as_u64()
        .unwrap();
    call(
        &client,
        "crm.item.add",
        json!({ "entityTypeId": 1032, "fields": { "title": "Smart" } }),
    )
    .await;
    let comment = call(
        &client,
        "crm.timeline.comment.add",
        json!({ "fields": { "ENTITY_ID": lead, "ENTITY_TYPE": "lead", "COMMENT": "x" } }),
    )
    .await;
    for _ in 0..200 {
        if portal.deliveries().len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deliveries = portal.deliveries();
    let form = |event: &str, key: &str| {
        deliveries.iter().find(|d| d.event == event).and_then(|d| {
            d.form
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        })
    };
    assert_eq!(
        form("ONCRMLEADADD", "data[FIELDS][ID]"),
        Some(lead.to_string())
    );
    assert_eq!(
        form("ONCRMDYNAMICITEMADD", "data[FIELDS][ENTITY_TYPE_ID]").as_deref(),
        Some("1032")
    );
    assert_eq!(
        form("ONCRMTIMELINECOMMENTADD", "data[ID]"),
        Some(comment.to_string())
    );
}

#[tokio::test]
async fn duplicates_are_found_whatever_the_phone_formatting() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    let lead = call(
        &client,
        "crm.lead.add",
        json!({ "fields": { "TITLE": "L", "PHONE": [{ "VALUE": "+7 (999) 123-45-67" }] } }),
    )
    .await;
    let contact = call(
        &client,
        "crm.contact.add",
        json!({ "fields": { "NAME": "C", "PHONE": [{ "VALUE": "8-999-123-45-67" }], "EMAIL": [{ "VALUE": "Same@Example.com" }] } }),
    )
    .await;
    let company = call(&client, "crm.item.add", json!({ "entityTypeId": 4, "fields": { "title": "Co", "fm": [{ "typeId": "EMAIL", "value": "same@example.com" }] } }))
        .await["item"]["id"]
        .clone();
    let found = call(
        &client,
        "crm.duplicate.findbycomm",
        json!({ "type": "PHONE", "values": ["79991234567"] }),
    )
    .await;
    assert_eq!(found, json!({ "LEAD": [lead], "CONTACT": [contact] }));
    let found = call(
        &client,
        "crm.duplicate.findbycomm",
        json!({ "type": "EMAIL", "values": ["SAME@example.com"], "entity_type": "COMPANY" }),
    )
    .await;
    assert_eq!(found, json!({ "COMPANY": [company] }));
    assert_eq!(
        call(
            &client,
            "crm.duplicate.findbycomm",
            json!({ "type": "PHONE", "values": ["+1 000"] })
        )
        .await,
        json!([])
    );
    let (code, status, _) = error(
        &client,
        "crm.duplicate.findbycomm",
        json!({ "values": ["1"] }),
    )
    .await;
    assert_eq!(
        (code.as_str(), status),
        ("Communication type is not defined", Some(400))
    );
}

#[tokio::test]
async fn file_fields_take_base64_and_read_back_as_links() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    let contact = call(
        &client,
        "crm.contact.add",
        json!({ "fields": { "NAME": "Pic", "PHOTO": { "fileData": ["me.gif", GIF] }, "UF_CRM_DOCS": [{ "fileData": ["a.txt", "YQ=="] }, { "fileData": ["b.txt", "Yg=="] }] } }),
    )
    .await;
    let old = call(&client, "crm.contact.get", json!({ "id": contact })).await;
    let photo = old["PHOTO"].clone();
    let photo_id = photo["id"].as_u64().unwrap();
    assert!(
        photo["showUrl"]
            .as_str()
            .unwrap()
            .contains(&format!("ownerId={contact}&fieldName=PHOTO")),
        "{photo}"
    );
    assert!(photo["downloadUrl"].is_string());
    assert_eq!(old["UF_CRM_DOCS"].as_array().unwrap().len(), 2);
    assert_eq!(portal.crm_file(photo_id).unwrap().0, "me.gif");

    let item = call(
        &client,
        "crm.item.get",
        json!({ "entityTypeId": 3, "id": contact }),
    )
    .await["item"]
        .clone();
    assert_eq!(item["photo"]["id"], photo_id);
    assert!(
        item["photo"]["urlMachine"]
            .as_str()
            .unwrap()
            .contains("crm.controller.item.getFile")
    );
    // Keep the second file, add one: the field is set as a whole.
    let kept = item["ufCrm_DOCS"].clone();
    let second = kept[1]["id"].as_u64().unwrap();
    let updated = call(
        &client,
        "crm.item.update",
        json!({ "entityTypeId": 3, "id": contact, "fields": { "UF_CRM_DOCS": [{ "id": second }, ["c.txt", "Yw=="]] } }),
    )
    .await["item"]
        .clone();
    let docs = updated["ufCrm_DOCS"].clone();
    let ids: Vec<u64> = docs
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], second);
    assert_eq!(
        portal.crm_file(ids[1]),
        Some(("c.txt".to_owned(), b"c".to_vec()))
    );

    let company = call(
        &client,
        "crm.company.add",
        json!({ "fields": { "TITLE": "Logo Inc", "LOGO": { "fileData": ["logo.gif", GIF] } } }),
    )
    .await;
    let logo = call(&client, "crm.company.get", json!({ "id": company })).await["LOGO"].clone();
    assert!(
        logo["showUrl"]
            .as_str()
            .unwrap()
            .contains("crm.company.show")
    );
    call(
        &client,
        "crm.company.update",
        json!({ "id": company, "fields": { "LOGO": "" } }),
    )
    .await;
    assert!(call(&client, "crm.company.get", json!({ "id": company })).await["LOGO"].is_null());
}

#[tokio::test]
async fn smart_processes_live_in_their_own_tables() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    let item = call(
        &client,
        "crm.item.add",
        json!({ "entityTypeId": 1038, "fields": { "title": "Request", "ufCrm5_1700000000": 10 } }),
    )
    .await["item"]
        .clone();
    assert_eq!(
        (
            item["id"].clone(),
            item["entityTypeId"].clone(),
            item["ufCrm5_1700000000"].clone()
        ),
        (json!(1), json!(1038), json!(10))
    );
    let original = call(
        &client,
        "crm.item.get",
        json!({ "entityTypeId": 1038, "id": 1, "useOriginalUfNames": "Y" }),
    )
    .await["item"]
        .clone();
    assert_eq!(original["UF_CRM_5_1700000000"], 10);
    let deal = call(
        &client,
        "crm.item.add",
        json!({ "entityTypeId": 2, "fields": { "title": "Linked", "parentId1038": 1 } }),
    )
    .await["item"]
        .clone();
    assert_eq!(deal["parentId1038"], 1);
    assert_eq!(portal.crm_rows("dynamic_1038").len(), 1);
    let fields = call(&client, "crm.item.fields", json!({ "entityTypeId": 2 })).await;
    assert_eq!(
        fields["fields"]["parentId1038"]["settings"]["parentEntityTypeId"],
        1038
    );
    assert_eq!(fields["fields"]["stageId"]["upperName"], "STAGE_ID");
}

#[tokio::test]
async fn universal_method_errors_are_the_documented_ones() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    let (code, status, description) = error(
        &client,
        "crm.item.add",
        json!({ "entityTypeId": 7, "fields": {} }),
    )
    .await;
    assert_eq!(
        (code.as_str(), status, description.as_str()),
        ("NOT_FOUND", Some(400), "Smart process not found")
    );
    let (code, _, description) = error(
        &client,
        "crm.item.get",
        json!({ "entityTypeId": 2, "id": 5 }),
    )
    .await;
    assert_eq!(
        (code.as_str(), description.as_str()),
        ("NOT_FOUND", "Item not found")
    );
    let (code, ..) = error(
        &client,
        "crm.item.add",
        json!({ "entityTypeId": 2, "fields": { "contactIds": 4 } }),
    )
    .await;
    assert_eq!(code, "100");
    let (code, ..) = error(
        &client,
        "crm.item.update",
        json!({ "entityTypeId": 2, "id": 1, "fields": {} }),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
    let (code, ..) = error(
        &client,
        "crm.item.list",
        json!({ "entityTypeId": 2, "order": { "title": "SIDEWAYS" } }),
    )
    .await;
    assert_eq!(code, "INVALID_ARG_VALUE");
    let (code, _, description) = error(
        &client,
        "crm.deal.update",
        json!({ "id": 77, "fields": { "TITLE": "x" } }),
    )
    .await;
    assert_eq!(
        (code.as_str(), description.as_str()),
        ("", "Deal is not found")
    );
    let (code, _, description) = error(
        &client,
        "crm.timeline.comment.list",
        json!({ "filter": { "ENTITY_ID": 1, "ENTITY_TYPE": "deal" } }),
    )
    .await;
    assert_eq!(
        (code.as_str(), description.as_str()),
        ("", "Access denied.")
    );
}

#[tokio::test]
async fn notifications_are_recorded() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    let first = call(
        &client,
        "im.notify.system.add",
        json!({ "USER_ID": 2, "MESSAGE": "Build failed", "TAG": "ci", "CLIENT_ID": "bot" }),
    )
    .await;
    let second = call(
        &client,
        "im.notify.system.add",
        json!({ "USER_ID": 2, "MESSAGE": "  Build fixed ", "TAG": "ci", "CLIENT_ID": "bot" }),
    )
    .await;
    let personal = call(
        &client,
        "im.notify.personal.add",
        json!({ "USER_ID": 3, "MESSAGE": "Ping" }),
    )
    .await;
    assert!(second.as_u64() > first.as_u64());
    let notifications = portal.notifications();
    assert_eq!(
        notifications.len(),
        2,
        "the tag replaced the first: {notifications:?}"
    );
    assert_eq!(
        (
            notifications[0]["message"].as_str(),
            notifications[0]["tag"].as_str()
        ),
        (Some("Build fixed"), Some("ci"))
    );
    assert_eq!(
        (
            notifications[1]["id"].clone(),
            notifications[1]["type"].as_str(),
            notifications[1]["authorId"].clone()
        ),
        (personal, Some("personal"), json!(1))
    );
    assert!(
        notifications[1]["date"]
            .as_str()
            .unwrap()
            .ends_with("+00:00")
    );
    let (code, ..) = error(&client, "im.notify.system.add", json!({ "MESSAGE": "x" })).await;
    assert_eq!(code, "USER_ID_EMPTY");
    let (code, ..) = error(&client, "im.notify.personal.add", json!({ "USER_ID": 2 })).await;
    assert_eq!(code, "MESSAGE_EMPTY");
    assert_eq!(
        call(
            &client,
            "im.notify.delete",
            json!({ "TAG": "ci", "CLIENT_ID": "bot" })
        )
        .await,
        json!(true)
    );
    assert_eq!(portal.notifications().len(), 1);

    // Apps may notify too.
    let app = portal.app_client().unwrap();
    call(
        &app,
        "im.notify.system.add",
        json!({ "USER_ID": 1, "MESSAGE": "From the app", "TAG": "t" }),
    )
    .await;
    assert_eq!(portal.notifications()[1]["clientId"], "local.sandbox.app");
}

#[tokio::test]
async fn chat_messages_are_recorded() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    let message = call(
        &client,
        "im.message.add",
        json!({ "DIALOG_ID": "chat12", "MESSAGE": "Approve?", "KEYBOARD": [{ "TEXT": "Yes", "COMMAND": "yes" }], "ATTACH": { "BLOCKS": [{ "MESSAGE": "x" }] } }),
    )
    .await;
    let direct = call(
        &client,
        "im.message.add",
        json!({ "DIALOG_ID": "2", "MESSAGE": "Hi Anna" }),
    )
    .await;
    let messages = portal.im_messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(
        (
            messages[0]["dialogId"].as_str(),
            messages[0]["message"].as_str()
        ),
        (Some("chat12"), Some("Approve?"))
    );
    assert_eq!(messages[0]["keyboard"][0]["COMMAND"], "yes");
    assert_eq!(messages[1]["id"], direct);
    assert_eq!(
        call(
            &client,
            "im.message.update",
            json!({ "MESSAGE_ID": message, "MESSAGE": "Approved" })
        )
        .await,
        json!(true)
    );
    assert_eq!(portal.im_messages()[0]["message"], "Approved");
    assert_eq!(
        call(
            &client,
            "im.message.delete",
            json!({ "MESSAGE_ID": direct })
        )
        .await,
        json!(true)
    );
    assert_eq!(portal.im_messages().len(), 1);
    let (code, ..) = error(
        &client,
        "im.message.add",
        json!({ "DIALOG_ID": "77", "MESSAGE": "x" }),
    )
    .await;
    assert_eq!(code, "USER_NOT_FOUND");
    let (code, ..) = error(
        &client,
        "im.message.delete",
        json!({ "MESSAGE_ID": direct }),
    )
    .await;
    assert_eq!(code, "CANT_EDIT_MESSAGE");
}

#[tokio::test]
async fn a_lead_bound_to_a_contact_is_a_repeat_lead() {
    let portal = unlimited().await;
    let client = quick_client(&portal);
    let contact = call(
        &client,
        "crm.contact.add",
        json!({ "fields": { "NAME": "Known" } }),
    )
    .await;
    let fresh = call(
        &client,
        "crm.lead.add",
        json!({ "fields": { "TITLE": "New" } }),
    )
    .await;
    let repeat = call(
        &client,
        "crm.lead.add",
        json!({ "fields": { "TITLE": "Again", "CONTACT_ID": contact, "IS_RETURN_CUSTOMER": "N" } }),
    )
    .await;
    let fresh = call(&client, "crm.lead.get", json!({ "id": fresh })).await;
    let repeat = call(&client, "crm.lead.get", json!({ "id": repeat })).await;
    assert_eq!(fresh["IS_RETURN_CUSTOMER"], "N");
    assert_eq!(repeat["IS_RETURN_CUSTOMER"], "Y", "{repeat}");
}
