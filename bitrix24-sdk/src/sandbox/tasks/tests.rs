//! Unit tests of the tasks module: handlers called on an in-memory state.

use serde_json::{Value, json};

use super::super::clock::Clock;
use super::super::registry::{Caller, CallerKind, Emitted, Handler, Registry};
use super::super::reply::{Outcome, Reply};
use super::super::state::State;
use super::super::user;

struct Portal {
    state: State,
    registry: Registry,
}

impl Portal {
    fn new() -> Self {
        let mut state = State::default();
        user::seed(&mut state, &Clock::new());
        let mut registry = Registry::default();
        super::register(&mut registry);
        super::super::disk::register(&mut registry);
        Self { state, registry }
    }

    fn call_as(&mut self, user: u64, method: &str, params: Value) -> (Outcome, Vec<Emitted>) {
        let handler: Handler = self
            .registry
            .get(method)
            .unwrap_or_else(|| panic!("no method {method}"))
            .handler;
        let caller = Caller {
            key: "test".into(),
            user_id: user,
            kind: CallerKind::Webhook,
        };
        crate::sandbox::testing::call(&mut self.state, &caller, handler, params)
    }

    fn call(&mut self, method: &str, params: Value) -> Outcome {
        self.call_as(1, method, params).0
    }

    fn ok(&mut self, method: &str, params: Value) -> Reply {
        self.call(method, params)
            .unwrap_or_else(|fail| panic!("{method} failed: {fail:?}"))
    }

    fn add(&mut self, fields: Value) -> u64 {
        let mut params = json!({});
        params["fields"] = fields;
        let reply = self.ok("tasks.task.add", params);
        reply.result["task"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    fn status(&mut self, id: u64) -> String {
        self.ok("tasks.task.get", json!({ "taskId": id })).result["task"]["status"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn upload(&mut self, name: &str) -> u64 {
        let root = self
            .state
            .disk
            .storages
            .rows
            .values()
            .find(|s| s["ENTITY_TYPE"] == "user")
            .unwrap()["ROOT_OBJECT_ID"]
            .clone();
        let reply = self.ok(
            "disk.folder.uploadFile",
            json!({ "id": root, "data": { "NAME": name }, "fileContent": [name, "aGVsbG8="] }),
        );
        reply.result["ID"].as_u64().unwrap()
    }
}

#[test]
fn add_returns_the_documented_shape_and_emits() {
    let mut portal = Portal::new();
    let (outcome, emitted) = portal.call_as(
        1,
        "tasks.task.add",
        json!({ "fields": { "TITLE": "Call", "RESPONSIBLE_ID": 2, "DEADLINE": "2030-01-02" } }),
    );
    let task = &outcome.unwrap().result["task"];
    assert_eq!(task["title"], "Call");
    assert_eq!(task["status"], "2");
    assert_eq!(task["responsibleId"], "2");
    assert_eq!(task["deadline"], "2030-01-02T00:00:00+00:00");
    assert_eq!(task["auditorsData"], json!([]));
    assert_eq!(task["responsible"]["name"], "Anna Smith");
    assert!(task.get("ufCrmTask").is_none());
    assert_eq!(emitted[0].name, "ONTASKADD");
    assert_eq!(emitted[0].data["FIELDS_BEFORE"], "undefined");
    assert_eq!(emitted[0].data["IS_ACCESSIBLE_BEFORE"], "N");
}

#[test]
fn add_validates_as_documented() {
    let mut portal = Portal::new();
    let no_fields = portal.call("tasks.task.add", json!({})).unwrap_err();
    assert_eq!(no_fields.code, "100");
    let no_title = portal
        .call(
            "tasks.task.add",
            json!({ "fields": { "RESPONSIBLE_ID": 1 } }),
        )
        .unwrap_err();
    assert_eq!(
        (no_title.code.as_str(), no_title.description.as_str()),
        ("ERROR_CORE", "Не указано название задачи<br>")
    );
    let nobody = portal
        .call(
            "tasks.task.add",
            json!({ "fields": { "TITLE": "x", "RESPONSIBLE_ID": 99 } }),
        )
        .unwrap_err();
    assert!(nobody.description.contains("Исполнитель"));
    let missing_file = portal.call("tasks.task.add", json!({ "fields": { "TITLE": "x", "RESPONSIBLE_ID": 1, "UF_TASK_WEBDAV_FILES": ["n999"] } }));
    assert_eq!(missing_file.unwrap_err().code, "ERROR_CORE");
}

#[test]
fn transitions_follow_status_and_role() {
    let mut portal = Portal::new();
    let id = portal.add(json!({ "TITLE": "Work", "RESPONSIBLE_ID": 1 }));
    let pause = portal
        .call("tasks.task.pause", json!({ "taskId": id }))
        .unwrap_err();
    assert_eq!(pause.code, "1048582");
    portal.ok("tasks.task.start", json!({ "taskId": id }));
    assert_eq!(portal.status(id), "3");
    let again = portal
        .call("tasks.task.start", json!({ "taskId": id }))
        .unwrap_err();
    assert_eq!(again.code, "0");
    portal.ok("tasks.task.pause", json!({ "taskId": id }));
    assert_eq!(portal.status(id), "2");
    portal.ok("tasks.task.defer", json!({ "taskId": id }));
    assert_eq!(portal.status(id), "6");
    portal.ok("tasks.task.renew", json!({ "taskId": id }));
    assert_eq!(portal.status(id), "2");
    let done = portal
        .ok("tasks.task.complete", json!({ "taskId": id }))
        .result;
    assert_eq!(done["task"]["status"], "5");
    assert_eq!(done["task"]["closedBy"], "1");
    assert_eq!(done["task"]["action"]["renew"], json!(true));
    assert_eq!(done["task"]["action"]["complete"], json!(false));
    assert_eq!(
        portal
            .call("tasks.task.complete", json!({ "taskId": id }))
            .unwrap_err()
            .code,
        "0"
    );
    assert_eq!(
        portal
            .call("tasks.task.approve", json!({ "taskId": id }))
            .unwrap_err()
            .code,
        "1048582"
    );
}

#[test]
fn control_sends_completion_for_approval() {
    let mut portal = Portal::new();
    let id = portal.add(
        json!({ "TITLE": "Controlled", "CREATED_BY": 2, "RESPONSIBLE_ID": 3, "TASK_CONTROL": "Y" }),
    );
    // Completed by someone other than the creator: awaiting control.
    portal
        .call_as(3, "tasks.task.complete", json!({ "taskId": id }))
        .0
        .unwrap();
    assert_eq!(portal.status(id), "4");
    // The responsible person may not approve; the creator may disapprove.
    assert_eq!(
        portal
            .call_as(3, "tasks.task.approve", json!({ "taskId": id }))
            .0
            .unwrap_err()
            .code,
        "1048582"
    );
    portal
        .call_as(2, "tasks.task.disapprove", json!({ "taskId": id }))
        .0
        .unwrap();
    assert_eq!(portal.status(id), "2");
    portal
        .call_as(3, "tasks.task.complete", json!({ "taskId": id }))
        .0
        .unwrap();
    portal
        .call_as(2, "tasks.task.approve", json!({ "taskId": id }))
        .0
        .unwrap();
    assert_eq!(portal.status(id), "5");
}

#[test]
fn delegate_moves_responsibility_and_keeps_the_old_one_watching() {
    let mut portal = Portal::new();
    let id = portal.add(json!({ "TITLE": "Hand over", "RESPONSIBLE_ID": 2 }));
    assert_eq!(
        portal
            .call("tasks.task.delegate", json!({ "taskId": id }))
            .unwrap_err()
            .code,
        "100"
    );
    let task = portal
        .ok("tasks.task.delegate", json!({ "taskId": id, "userId": 3 }))
        .result;
    assert_eq!(task["task"]["responsibleId"], "3");
    assert_eq!(task["task"]["auditors"], json!(["2"]));
}

#[test]
fn update_select_and_attachments() {
    let mut portal = Portal::new();
    let first = portal.upload("a.txt");
    let second = portal.upload("b.txt");
    let id = portal.add(json!({ "TITLE": "Files", "RESPONSIBLE_ID": 1, "UF_CRM_TASK": ["D_1", "L_4"], "UF_TASK_WEBDAV_FILES": [format!("n{first}")] }));
    let selected = portal
        .ok(
            "tasks.task.get",
            json!({ "taskId": id, "select": ["ID", "UF_CRM_TASK"] }),
        )
        .result;
    let task = &selected["task"];
    assert_eq!(task["ufCrmTask"], json!(["D_1", "L_4"]));
    let kept = task["ufTaskWebdavFiles"][0].as_u64().unwrap();
    assert!(task["ufMailMessage"].is_null());
    assert!(task.get("title").is_none());
    // Keep the first attachment by id, add the second file.
    portal.ok(
        "tasks.task.update",
        json!({ "taskId": id, "fields": { "UF_TASK_WEBDAV_FILES": [kept, format!("n{second}")] } }),
    );
    let files = portal
        .ok(
            "tasks.task.get",
            json!({ "taskId": id, "select": ["UF_TASK_WEBDAV_FILES"] }),
        )
        .result["task"]["ufTaskWebdavFiles"]
        .clone();
    assert_eq!(files.as_array().unwrap().len(), 2);
    assert_eq!(files[0], json!(kept));
    let attached = portal
        .ok(
            "tasks.task.files.attach",
            json!({ "taskId": id, "fileId": first }),
        )
        .result;
    assert!(attached["attachmentId"].is_u64());
    let object = portal
        .ok(
            "disk.attachedObject.get",
            json!({ "id": attached["attachmentId"] }),
        )
        .result;
    assert_eq!(object["OBJECT_ID"], first.to_string());
    assert_eq!(object["ENTITY_TYPE"], "tasks_task");
    let bad_select = portal
        .call("tasks.task.get", json!({ "taskId": id, "select": {} }))
        .unwrap_err();
    assert_eq!(bad_select.code, "100");
    let own_parent = portal
        .call(
            "tasks.task.update",
            json!({ "taskId": id, "fields": { "PARENT_ID": id } }),
        )
        .unwrap_err();
    assert_eq!(
        own_parent.description,
        "Невозможно привязать узел к самому себе<br>"
    );
}

#[test]
fn list_orders_filters_and_pages() {
    let mut portal = Portal::new();
    for n in 1..=55 {
        portal.add(json!({ "TITLE": format!("Task {n}"), "RESPONSIBLE_ID": if n % 2 == 0 { 2 } else { 3 }, "PRIORITY": n % 3 }));
    }
    let page = portal.ok("tasks.task.list", json!({}));
    assert_eq!((page.total, page.next), (Some(55), Some(50)));
    assert_eq!(page.result["tasks"][0]["id"], "55");
    let filtered = portal.ok("tasks.task.list", json!({ "filter": { "RESPONSIBLE_ID": 2, ">ID": 50 }, "order": { "ID": "asc" }, "select": ["ID", "TITLE"] }));
    let ids: Vec<&str> = filtered.result["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["52", "54"]);
    let bad = portal
        .call("tasks.task.list", json!({ "order": { "NOPE": "asc" } }))
        .unwrap_err();
    assert_eq!(bad.code, "0");
    portal.ok("tasks.task.favorite.add", json!({ "taskId": 7 }));
    let favorites = portal.ok(
        "tasks.task.list",
        json!({ "filter": { "::SUBFILTER-PARAMS": { "FAVORITE": "Y" } } }),
    );
    assert_eq!(favorites.total, Some(1));
    let overdue_id = portal
        .add(json!({ "TITLE": "Late", "RESPONSIBLE_ID": 1, "DEADLINE": "2001-01-01T00:00:00" }));
    let overdue = portal.ok(
        "tasks.task.list",
        json!({ "filter": { "STATUS": -1 }, "select": ["ID", "SUB_STATUS"] }),
    );
    assert_eq!(overdue.result["tasks"][0]["id"], overdue_id.to_string());
    assert_eq!(overdue.result["tasks"][0]["subStatus"], "-1");
}

#[test]
fn delete_removes_and_emits() {
    let mut portal = Portal::new();
    let id = portal.add(json!({ "TITLE": "Gone", "RESPONSIBLE_ID": 1 }));
    let (outcome, emitted) = portal.call_as(1, "tasks.task.delete", json!({ "taskId": id }));
    assert_eq!(outcome.unwrap().result, json!({ "task": true }));
    assert_eq!(emitted[0].data["FIELDS_AFTER"], "undefined");
    assert_eq!(
        portal
            .call("tasks.task.delete", json!({ "taskId": id }))
            .unwrap_err()
            .code,
        "1048582"
    );
    assert_eq!(
        portal
            .call("tasks.task.get", json!({ "taskId": "abc" }))
            .unwrap_err()
            .description,
        "wrong task id"
    );
    assert_eq!(
        portal.call("tasks.task.get", json!({})).unwrap_err().code,
        "100"
    );
}

#[test]
fn comments_named_and_positional() {
    let mut portal = Portal::new();
    let file = portal.upload("photo.png");
    let id = portal.add(json!({ "TITLE": "Talk", "RESPONSIBLE_ID": 1 }));
    let (outcome, emitted) =
        portal.call_as(1, "task.commentitem.add", json!({ "TASKID": id, "FIELDS": { "POST_MESSAGE": "Hi", "UF_FORUM_MESSAGE_DOC": [format!("n{file}")] } }));
    let first = outcome.unwrap().result.as_u64().unwrap();
    assert_eq!(emitted[0].name, "ONTASKCOMMENTADD");
    assert_eq!(
        emitted[0].data["FIELDS_AFTER"],
        json!({ "ID": first, "TASK_ID": id })
    );
    let second = portal
        .ok(
            "task.commentitem.add",
            json!({ "0": id, "1": { "POST_MESSAGE": "Positional", "AUTHOR_ID": 2 } }),
        )
        .result;
    assert!(second.is_u64());
    let comment = portal
        .ok(
            "task.commentitem.get",
            json!({ "TASKID": id, "ITEMID": first }),
        )
        .result;
    let attached = comment["ATTACHED_OBJECTS"].as_object().unwrap();
    assert_eq!(
        attached.values().next().unwrap()["FILE_ID"],
        file.to_string()
    );
    let all = portal
        .ok(
            "task.commentitem.getlist",
            json!({ "TASKID": id, "ORDER": { "ID": "asc" }, "FILTER": { "AUTHOR_ID": 2 } }),
        )
        .result;
    assert_eq!(all.as_array().unwrap().len(), 1);
    let swapped = portal
        .call(
            "task.commentitem.getlist",
            json!({ "TASKID": id, "ORDER": { ">=POST_DATE": "2025-01-01" } }),
        )
        .unwrap_err();
    assert!(
        swapped
            .description
            .contains("must not contain key \">=POST_DATE\"")
    );
    let empty = portal
        .call(
            "task.commentitem.update",
            json!({ "TASKID": id, "ITEMID": first, "FIELDS": { "POST_MESSAGE": "" } }),
        )
        .unwrap_err();
    assert_eq!(empty.code, "ERROR_CORE");
    // Only the author or the administrator may edit.
    let other = portal
        .call_as(
            3,
            "task.commentitem.update",
            json!({ "TASKID": id, "ITEMID": first, "FIELDS": { "POST_MESSAGE": "x" } }),
        )
        .0;
    assert!(
        other
            .unwrap_err()
            .description
            .contains("ACTION_NOT_ALLOWED")
    );
    portal.ok(
        "task.commentitem.delete",
        json!({ "TASKID": id, "ITEMID": first }),
    );
    assert!(
        portal
            .call(
                "task.commentitem.get",
                json!({ "TASKID": id, "ITEMID": first })
            )
            .unwrap_err()
            .description
            .contains("#512")
    );
    let task = portal.ok("tasks.task.get", json!({ "taskId": id })).result;
    assert_eq!(task["task"]["commentsCount"], "1");
}

#[test]
fn get_fields_lists_user_fields_in_use() {
    let mut portal = Portal::new();
    portal.add(json!({ "TITLE": "Custom", "RESPONSIBLE_ID": 1, "UF_PROJECT_CODE": "X1" }));
    let fields = portal.ok("tasks.task.getFields", json!({})).result;
    assert_eq!(fields["fields"]["TITLE"]["required"], json!(true));
    assert_eq!(fields["fields"]["UF_PROJECT_CODE"]["type"], "string");
}

#[test]
fn checklist_groups_and_tags_are_presented() {
    let mut portal = Portal::new();
    let id = portal.add(json!({
        "TITLE": "Rich", "RESPONSIBLE_ID": 1, "GROUP_ID": 2, "TAGS": ["alpha", "beta"], "AUDITORS": [2, 3], "ACCOMPLICES": [4],
        "SE_CHECKLIST": [{ "TITLE": "First" }, { "TITLE": "Second", "IS_COMPLETE": "Y" }],
    }));
    let task = portal.ok("tasks.task.get", json!({ "taskId": id })).result["task"].clone();
    assert_eq!(task["group"]["name"], "Product scrum");
    assert!(task["backlogId"].is_string());
    assert_eq!(task["checklist"].as_object().unwrap().len(), 3);
    assert_eq!(
        task["checkListTree"]["descendants"][0]["descendants"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(task["auditorsData"].as_object().unwrap().len(), 2);
    let listed = portal
        .ok("tasks.task.list", json!({ "select": ["ID", "TAGS"] }))
        .result;
    assert_eq!(listed["tasks"][0]["tags"].as_object().unwrap().len(), 2);
}

#[test]
fn ordering_by_a_field_with_empty_values_is_stable() {
    let mut portal = Portal::new();
    for n in 0..300u64 {
        let mut fields = json!({ "TITLE": format!("T{n}"), "RESPONSIBLE_ID": 1 });
        if n % 3 == 0 {
            fields["DEADLINE"] = json!(format!("2030-01-{:02}", n % 28 + 1));
        }
        portal.add(fields);
    }
    for _ in 0..20 {
        let page = portal.ok("tasks.task.list", json!({ "order": { "DEADLINE": "asc", "PRIORITY": "desc" }, "select": ["ID", "DEADLINE"] }));
        assert_eq!(page.total, Some(300));
    }
}
