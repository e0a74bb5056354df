//! Conformance of the curated models with the documented replies and with the sandbox.
//!
//! 1. Every method in `codegen/outputs.toml` has an entry in [`outputs`] below (method name to
//!    a closure decoding into its output type), with the same type.
//! 2. Every documented reply of those methods decodes into its output with
//!    [`bitrix24::decode_reply`]: `fixtures-docs/<method>.json` and its documented variants
//!    (`<method>.<variant>.json`), and the `resultExample` of the catalogue's
//!    `methods/<method>.json`; written back with `Serialize`, it reads back unchanged.
//! 3. (feature `sandbox`) Records created through the client come back typed from the sandbox
//!    portal, with the values that were sent.
//!
//! The documentation's data is read from `BITRIX24_DOCS_FIXTURES` and `BITRIX24_SPEC_DIR`
//! (`.ci/run` sets both) or from `../shared` beside the repository; without it the test says so
//! and checks nothing from it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    clippy::doc_markdown
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bitrix24::decode_reply;

/// Decodes a whole reply body into a method's output type.
type Check = fn(&[u8]) -> Result<(), String>;

/// The dispatch table: method name, output type as written in `outputs.toml` (with `bitrix24`
/// for `crate`), and a decoder into that type.
macro_rules! outputs {
    ($( $method:literal => $ty:ty ),* $(,)?) => {
        fn outputs() -> Vec<(&'static str, String, Check)> {
            vec![$(
                (
                    $method,
                    stringify!($ty).split_whitespace().collect::<String>(),
                    (|body: &[u8]| {
                        let typed = decode_reply::<$ty>(body, 200)
                            .map_err(|error| error.to_string())?
                            .result;
                        // Written back and read again, a model must not change.
                        let written = serde_json::to_vec(&serde_json::json!({ "result": typed }))
                            .map_err(|error| format!("cannot serialize: {error}"))?;
                        let again = decode_reply::<$ty>(&written, 200)
                            .map_err(|error| format!("does not read back: {error}"))?
                            .result;
                        if again == typed {
                            Ok(())
                        } else {
                            Err(format!("changed when written back: {typed:?} became {again:?}"))
                        }
                    }) as Check,
                ),
            )*]
        }
    };
}

outputs! {
    "crm.company.add" => bitrix24::types::Id,
    "crm.company.delete" => bool,
    "crm.company.fields" => bitrix24::types::FieldMap,
    "crm.company.get" => bitrix24::crm::Company,
    "crm.company.list" => Vec<bitrix24::crm::Company>,
    "crm.company.update" => bool,
    "crm.contact.add" => bitrix24::types::Id,
    "crm.contact.delete" => bool,
    "crm.contact.fields" => bitrix24::types::FieldMap,
    "crm.contact.get" => bitrix24::crm::Contact,
    "crm.contact.list" => Vec<bitrix24::crm::Contact>,
    "crm.contact.update" => bool,
    "crm.deal.add" => bitrix24::types::Id,
    "crm.deal.delete" => bool,
    "crm.deal.fields" => bitrix24::types::FieldMap,
    "crm.deal.get" => bitrix24::crm::Deal,
    "crm.deal.list" => Vec<bitrix24::crm::Deal>,
    "crm.deal.update" => bool,
    "crm.item.add" => bitrix24::crm::ItemEnvelope,
    "crm.item.fields" => bitrix24::types::FieldsEnvelope,
    "crm.item.get" => bitrix24::crm::ItemEnvelope,
    "crm.item.list" => bitrix24::crm::ItemsPage,
    "crm.item.update" => bitrix24::crm::ItemEnvelope,
    "crm.lead.add" => bitrix24::types::Id,
    "crm.lead.delete" => bool,
    "crm.lead.fields" => bitrix24::types::FieldMap,
    "crm.lead.get" => bitrix24::crm::Lead,
    "crm.lead.list" => Vec<bitrix24::crm::Lead>,
    "crm.lead.update" => bool,
    "crm.timeline.comment.add" => bitrix24::types::Id,
    "crm.timeline.comment.fields" => bitrix24::types::FieldMap,
    "crm.timeline.comment.get" => bitrix24::crm::TimelineComment,
    "crm.timeline.comment.list" => Vec<bitrix24::crm::TimelineComment>,
    "crm.timeline.comment.update" => bitrix24::types::Id,
    "disk.attachedObject.get" => bitrix24::disk::AttachedObject,
    "disk.file.copyTo" => bitrix24::disk::File,
    "disk.file.delete" => bool,
    "disk.file.get" => bitrix24::disk::File,
    "disk.file.markDeleted" => bitrix24::disk::File,
    "disk.file.rename" => bitrix24::disk::File,
    "disk.file.restore" => bitrix24::disk::File,
    "disk.file.uploadVersion" => bitrix24::disk::File,
    "disk.folder.addSubFolder" => bitrix24::disk::Folder,
    "disk.folder.copyTo" => bitrix24::disk::Folder,
    "disk.folder.get" => bitrix24::disk::Folder,
    "disk.folder.getChildren" => Vec<bitrix24::disk::DiskObject>,
    "disk.folder.markDeleted" => bitrix24::disk::Folder,
    "disk.folder.rename" => bitrix24::disk::Folder,
    "disk.folder.restore" => bitrix24::disk::Folder,
    "disk.folder.uploadFile" => bitrix24::disk::UploadResult,
    "disk.storage.addFolder" => bitrix24::disk::Folder,
    "disk.storage.get" => bitrix24::disk::Storage,
    "disk.storage.getChildren" => Vec<bitrix24::disk::DiskObject>,
    "disk.storage.getForApp" => bitrix24::disk::Storage,
    "disk.storage.getList" => Vec<bitrix24::disk::Storage>,
    "disk.storage.rename" => bitrix24::disk::Storage,
    "disk.storage.uploadFile" => bitrix24::disk::UploadResult,
    "im.message.add" => bitrix24::im::MessageId,
    "im.message.delete" => bool,
    "im.message.update" => bool,
    "im.notify.delete" => bool,
    "im.notify.personal.add" => bitrix24::im::NotificationId,
    "im.notify.system.add" => bitrix24::im::NotificationId,
    "imconnector.activate" => bool,
    "imconnector.delete.messages" => bitrix24::imconnector::SendMessagesResult,
    "imconnector.send.messages" => bitrix24::imconnector::SendMessagesResult,
    "imconnector.send.status.delivery" => bitrix24::imconnector::SendMessagesResult,
    "imconnector.send.status.reading" => bitrix24::imconnector::SendMessagesResult,
    "imconnector.status" => bitrix24::imconnector::ConnectorStatus,
    "imconnector.update.messages" => bitrix24::imconnector::SendMessagesResult,
    "imopenlines.config.add" => bitrix24::types::Id,
    "imopenlines.config.delete" => bool,
    "imopenlines.config.get" => bitrix24::imopenlines::OpenLineConfig,
    "imopenlines.config.list.get" => Vec<bitrix24::imopenlines::OpenLineConfig>,
    "imopenlines.config.update" => bool,
    "imopenlines.dialog.get" => bitrix24::imopenlines::Dialog,
    "imopenlines.session.head.vote" => bool,
    "imopenlines.session.history.get" => bitrix24::imopenlines::Session,
    "imopenlines.session.intercept" => bool,
    "imopenlines.session.join" => bool,
    "imopenlines.session.mode.pin" => bool,
    "imopenlines.session.mode.pinAll" => Vec<bitrix24::types::Id>,
    "imopenlines.session.mode.silent" => bool,
    "imopenlines.session.mode.unpinAll" => Vec<bitrix24::types::Id>,
    "imopenlines.session.open" => bitrix24::imopenlines::SessionChat,
    "imopenlines.session.start" => bool,
    "task.commentitem.add" => bitrix24::types::Id,
    "task.commentitem.delete" => bool,
    "task.commentitem.get" => bitrix24::tasks::TaskComment,
    "task.commentitem.getlist" => Vec<bitrix24::tasks::TaskComment>,
    "task.commentitem.update" => bool,
    "tasks.task.add" => bitrix24::tasks::TaskEnvelope,
    "tasks.task.approve" => bitrix24::tasks::TaskEnvelope,
    "tasks.task.complete" => bitrix24::tasks::TaskEnvelope,
    "tasks.task.defer" => bitrix24::tasks::TaskEnvelope,
    "tasks.task.delegate" => bitrix24::tasks::TaskEnvelope,
    "tasks.task.disapprove" => bitrix24::tasks::TaskEnvelope,
    "tasks.task.get" => bitrix24::tasks::TaskEnvelope,
    "tasks.task.getFields" => bitrix24::types::FieldsEnvelope,
    "tasks.task.list" => bitrix24::tasks::TasksPage,
    "tasks.task.pause" => bitrix24::tasks::TaskEnvelope,
    "tasks.task.renew" => bitrix24::tasks::TaskEnvelope,
    "tasks.task.start" => bitrix24::tasks::TaskEnvelope,
    "tasks.task.update" => bitrix24::tasks::TaskEnvelope,
    "user.add" => bitrix24::types::Id,
    "user.current" => bitrix24::user::User,
    "user.get" => Vec<bitrix24::user::User>,
    "user.search" => Vec<bitrix24::user::User>,
    "user.update" => bool,
}

/// `codegen/outputs.toml`, read without a TOML parser: method name to `output`.
///
/// The file is written as one `[methods."<name>"]` table per method with `key = "value"` lines,
/// which is all this needs to read.
fn outputs_toml() -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("codegen/outputs.toml");
    let text = std::fs::read_to_string(&path).expect("codegen/outputs.toml is readable");
    let mut outputs = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if let Some(name) = line
            .strip_prefix("[methods.\"")
            .and_then(|rest| rest.strip_suffix("\"]"))
        {
            current = Some(name.to_owned());
        } else if let (Some(method), Some(value)) = (&current, line.strip_prefix("output = ")) {
            let value = value.trim_matches('"').replace("crate::", "bitrix24::");
            outputs.insert(method.clone(), value);
        }
    }
    outputs
}

fn shared_dir(var: &str, beside: &str) -> Option<PathBuf> {
    let dir = std::env::var_os(var).map(PathBuf::from).or_else(|| {
        let beside = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared")
            .join(beside);
        beside.is_dir().then_some(beside)
    })?;
    dir.is_dir().then_some(dir)
}

#[test]
fn the_dispatch_table_matches_outputs_toml() {
    let toml = outputs_toml();
    let table: BTreeMap<&str, String> = outputs()
        .into_iter()
        .map(|(method, ty, _)| (method, ty))
        .collect();
    let mut problems = Vec::new();
    for (method, ty) in &toml {
        match table.get(method.as_str()) {
            None => problems.push(format!("{method}: in outputs.toml, not in the test table")),
            Some(tested) if tested != ty => {
                problems.push(format!(
                    "{method}: outputs.toml says {ty}, the test decodes {tested}"
                ));
            }
            Some(_) => {}
        }
    }
    for method in table.keys() {
        if !toml.contains_key(*method) {
            problems.push(format!("{method}: in the test table, not in outputs.toml"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    println!(
        "model conformance: {} methods in outputs.toml, all in the dispatch table",
        toml.len()
    );
}

/// The documented replies of `method` in `fixtures-docs`: `<method>.json` and
/// `<method>.<variant>.json` (not requests or errors, and not another method's file).
fn documented_replies(dir: &Path, method: &str, methods: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        let mine = stem == method
            || stem.strip_prefix(method).is_some_and(|rest| {
                rest.starts_with('.')
                    && !rest.contains(".request")
                    && !rest.contains(".error")
                    && !methods.contains(&stem)
            });
        if mine {
            found.push(entry.path());
        }
    }
    found.sort();
    found
}

#[test]
fn every_documented_reply_decodes_into_its_output() {
    let docs = shared_dir("BITRIX24_DOCS_FIXTURES", "fixtures-docs");
    let spec = shared_dir("BITRIX24_SPEC_DIR", "b24-spec");
    if docs.is_none() && spec.is_none() {
        println!(
            "model conformance: BITRIX24_DOCS_FIXTURES / BITRIX24_SPEC_DIR are not set and \
             ../shared is absent; no documented reply checked"
        );
        return;
    }
    let table = outputs();
    let names: Vec<&str> = table.iter().map(|(method, _, _)| *method).collect();
    let mut failures = Vec::new();
    let (mut from_docs, mut from_spec) = (0, 0);
    let mut undocumented = Vec::new();
    for (method, _, check) in &table {
        let mut seen = false;
        if let Some(docs) = &docs {
            for path in documented_replies(docs, method, &names) {
                let body = std::fs::read(&path).unwrap();
                seen = true;
                from_docs += 1;
                if let Err(error) = check(&body) {
                    failures.push(format!("{}: {error}", path.display()));
                }
            }
        }
        if let Some(spec) = &spec {
            let path = spec.join("methods").join(format!("{method}.json"));
            let example = std::fs::read(&path)
                .ok()
                .and_then(|text| serde_json::from_slice::<serde_json::Value>(&text).ok())
                .and_then(|page| page.get("resultExample").cloned())
                .filter(|example| example.get("result").is_some());
            if let Some(example) = example {
                seen = true;
                from_spec += 1;
                if let Err(error) = check(&serde_json::to_vec(&example).unwrap()) {
                    failures.push(format!("{} (resultExample): {error}", path.display()));
                }
            }
        }
        if !seen {
            undocumented.push(*method);
        }
    }
    println!(
        "model conformance: {} documented replies decoded into their typed outputs \
         ({from_docs} from fixtures-docs, {from_spec} catalogue resultExamples) for {} of {} \
         methods; without a documented reply: {}",
        from_docs + from_spec,
        table.len() - undocumented.len(),
        table.len(),
        if undocumented.is_empty() {
            "none".to_owned()
        } else {
            undocumented.join(", ")
        }
    );
    assert!(
        failures.is_empty(),
        "{} documented replies do not decode:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Spot checks that the documented replies decode into the right values, not just without error.
#[test]
fn documented_values_land_in_the_right_fields() {
    use bitrix24::crm::{ItemEnvelope, Lead, MultiFieldType};
    use bitrix24::disk::{DiskObject, UploadResult};
    use bitrix24::imconnector::SendMessagesResult;
    use bitrix24::tasks::{TaskEnvelope, TaskPriority, TaskStatus, TasksPage};
    use bitrix24::types::{Id, Semantic};
    use bitrix24::user::User;

    let Some(docs) = shared_dir("BITRIX24_DOCS_FIXTURES", "fixtures-docs") else {
        println!("model conformance: fixtures-docs absent; value checks skipped");
        return;
    };
    let read = |name: &str| std::fs::read(docs.join(name)).unwrap();

    let lead = decode_reply::<Lead>(&read("crm.lead.get.json"), 200)
        .unwrap()
        .result;
    assert_eq!(lead.id, Id(123));
    assert_eq!(lead.name, None, "\"\" is None");
    assert_eq!(lead.birthdate, None);
    assert_eq!(lead.opportunity, Some(0.0));
    assert_eq!(lead.opened, Some(true));
    assert_eq!(lead.status_semantic_id, Some(Semantic::Process));
    assert_eq!(
        lead.date_create.as_ref().unwrap().unix_timestamp(),
        Some(1_716_477_505)
    );
    assert_eq!(lead.phone[0].value(), "+5454777777");
    assert_eq!(lead.phone[0].type_id, Some(MultiFieldType::Phone));
    assert_eq!(lead.im[0].value_type.as_deref(), Some("OPENLINE"));

    let leads = decode_reply::<Vec<Lead>>(&read("crm.lead.list.json"), 200)
        .unwrap()
        .result;
    assert_eq!(
        leads[0].uf("UF_CRM_1708952993785"),
        Some(&serde_json::json!(false))
    );

    let item = decode_reply::<ItemEnvelope>(&read("crm.item.get.json"), 200)
        .unwrap()
        .result
        .item;
    assert_eq!(item.id, Id(250));
    assert_eq!(item.entity_type_id, Some(1));
    assert_eq!(item.fm.len(), 2);
    assert_eq!(item.fm[1].value(), "admin@example.com");
    assert_eq!(
        item.uf("ufCrm_1720019876534"),
        Some(&serde_json::json!("321"))
    );
    let deal = decode_reply::<ItemEnvelope>(&read("crm.item.add.json"), 200)
        .unwrap()
        .result
        .item;
    assert_eq!(deal.observers, vec![Id(2), Id(3)]);
    assert_eq!(deal.parent_id(1220), Some(Id(2)));

    let task = decode_reply::<TaskEnvelope>(&read("tasks.task.add.json"), 200)
        .unwrap()
        .result
        .task;
    assert_eq!(task.id, Id(3711));
    assert_eq!(task.status, Some(TaskStatus::Pending));
    assert_eq!(task.priority, Some(TaskPriority::Average));
    assert_eq!(task.creator.as_ref().unwrap().id, Id(1));
    let page = decode_reply::<TasksPage>(&read("tasks.task.list.json"), 200)
        .unwrap()
        .result;
    assert_eq!(page.tasks[0].auditors, vec![Id(13), Id(103)]);
    assert_eq!(
        page.tasks[0].auditors_data["103"].name.as_deref(),
        Some("Светлана Иванова")
    );
    assert_eq!(page.tasks[0].mark, None, "\"\" is None");
    let started = decode_reply::<TaskEnvelope>(&read("tasks.task.start.json"), 200)
        .unwrap()
        .result
        .task;
    assert_eq!(started.status, Some(TaskStatus::InProgress));
    assert_eq!(
        started.checklist.len(),
        3,
        "a checklist keyed by id reads as a list"
    );

    let children = decode_reply::<Vec<DiskObject>>(&read("disk.folder.getChildren.json"), 200)
        .unwrap()
        .result;
    assert!(children.iter().any(|c| c.as_file().is_some()));
    assert!(children.iter().any(|c| c.as_folder().is_some()));
    let step1 =
        decode_reply::<UploadResult>(&read("disk.folder.uploadFile.uploadurl-step1.json"), 200)
            .unwrap()
            .result;
    assert_eq!(step1.upload_target().unwrap().field, "file");
    let uploaded = decode_reply::<UploadResult>(&read("disk.folder.uploadFile.json"), 200)
        .unwrap()
        .result;
    assert_eq!(uploaded.file().unwrap().size, Some(1679));

    let users = decode_reply::<Vec<User>>(&read("user.get.json"), 200)
        .unwrap()
        .result;
    assert_eq!(users[0].timestamp_x, None, "{{}} is None");
    assert_eq!(users[0].departments(), vec![Id(1)]);
    assert_eq!(users[0].active, Some(true));

    let sent = decode_reply::<SendMessagesResult>(&read("imconnector.send.messages.json"), 200)
        .unwrap()
        .result;
    assert!(sent.all_succeeded());
    assert_eq!(sent.results()[0].chat_id(), Some(Id(1767)));
}

#[cfg(feature = "sandbox")]
mod sandbox {
    use std::collections::BTreeSet;

    use bitrix24::Client;
    use bitrix24::crm::{
        CompanyFields, ContactFields, DealFields, ItemEnvelope, ItemFields, ItemsPage, LeadFields,
        MultiFieldType, TimelineComment,
    };
    use bitrix24::disk::{AttachedObject, DiskObject, File, Folder, Storage, UploadResult};
    use bitrix24::imconnector::{ConnectorStatus, SendMessagesResult};
    use bitrix24::imopenlines::{Dialog, OpenLineConfig, Session, SessionChat};
    use bitrix24::list::Identified;
    use bitrix24::sandbox::SandboxPortal;
    use bitrix24::tasks::{TaskComment, TaskEnvelope, TaskFields, TaskStatus, TasksPage};
    use bitrix24::types::{FieldMap, FieldsEnvelope, FileData, Id};
    use bitrix24::user::User;
    use bitrix24::{Limits, crm};
    use serde::de::DeserializeOwned;
    use serde_json::{Value, json};

    /// Calls a method and decodes its result into `T`, remembering the method as checked.
    struct Typed<'a> {
        client: &'a Client,
        checked: &'a mut BTreeSet<String>,
    }

    impl Typed<'_> {
        async fn call<T: DeserializeOwned + Send + 'static>(
            &mut self,
            method: &str,
            params: Value,
        ) -> T {
            let result = self
                .client
                .call_raw::<T>(method, params)
                .await
                .unwrap_or_else(|error| panic!("{method}: {error}"));
            self.checked.insert(method.to_owned());
            result
        }

        /// Like [`Typed::call`] for a method the sandbox may not implement yet: `None` then.
        async fn maybe<T: DeserializeOwned + Send + 'static>(
            &mut self,
            implemented: &BTreeSet<&str>,
            method: &str,
            params: Value,
        ) -> Option<T> {
            if implemented.contains(method) {
                Some(self.call(method, params).await)
            } else {
                None
            }
        }
    }

    async fn crud<T>(
        client: &Client,
        checked: &mut BTreeSet<String>,
        entity: &str,
        fields: Value,
        changes: Value,
    ) -> T
    where
        T: DeserializeOwned + Identified + Send + 'static,
    {
        let mut t = Typed { client, checked };
        let id: Id = t
            .call(&format!("crm.{entity}.add"), json!({ "fields": fields }))
            .await;
        let updated: bool = t
            .call(
                &format!("crm.{entity}.update"),
                json!({ "id": id, "fields": changes }),
            )
            .await;
        assert!(updated);
        let row: T = t
            .call(&format!("crm.{entity}.get"), json!({ "id": id }))
            .await;
        assert_eq!(row.row_id(), Some(id.get()));
        let rows: Vec<T> = t
            .call(
                &format!("crm.{entity}.list"),
                json!({ "filter": { "ID": id }, "select": ["*", "UF_*", "PHONE", "EMAIL", "WEB", "IM"] }),
            )
            .await;
        assert_eq!(rows.len(), 1);
        let fields: FieldMap = t.call(&format!("crm.{entity}.fields"), json!({})).await;
        assert!(fields.contains_key("ID"));
        row
    }

    /// The generated requests decode into the curated models end to end.
    #[tokio::test]
    async fn typed_requests_return_the_curated_models() {
        use bitrix24::methods::crm::lead;
        use bitrix24::methods::tasks::task;

        let portal = SandboxPortal::builder()
            .limits(Limits::unlimited())
            .start()
            .await
            .unwrap();
        let client = portal.client().unwrap();

        let id: Id = client
            .call(lead::Add::new().fields(LeadFields::new().title("Typed").phone("+1 555", "WORK")))
            .await
            .unwrap();
        let row: crm::Lead = client.call(lead::Get::new(id)).await.unwrap();
        assert_eq!(row.title.as_deref(), Some("Typed"));
        assert_eq!(row.phone[0].value(), "+1 555");
        let changed: bool = client
            .call(lead::Update::new(id).fields(LeadFields::new().title("Typed 2")))
            .await
            .unwrap();
        assert!(changed);
        let rows: Vec<crm::Lead> = client
            .call(lead::List::new().filter(json!({ "ID": id })))
            .await
            .unwrap();
        assert_eq!(rows[0].title.as_deref(), Some("Typed 2"));

        let created: TaskEnvelope = client
            .call(task::Add::new(
                TaskFields::new().title("Typed task").responsible_id(1_u64),
            ))
            .await
            .unwrap();
        let started: TaskEnvelope = client
            .call(task::Start::new(created.task.id))
            .await
            .unwrap();
        assert_eq!(started.task.status, Some(TaskStatus::InProgress));
        let page: TasksPage = client.call(task::List::new()).await.unwrap();
        assert!(page.tasks.iter().any(|t| t.id == created.task.id));
        println!(
            "model conformance (typed requests): 7 generated requests returned curated models"
        );
    }

    #[tokio::test]
    async fn records_created_through_the_client_come_back_typed() {
        let portal = SandboxPortal::builder()
            .limits(Limits::unlimited())
            .start()
            .await
            .unwrap();
        let hook = portal.client().unwrap();
        let app = portal.app_client().unwrap();
        let implemented: BTreeSet<&str> = portal.methods().into_iter().collect();
        let mut checked = BTreeSet::new();

        // CRM entities: create with the input builders, read back into the models.
        let lead: crm::Lead = crud(
            &hook,
            &mut checked,
            "lead",
            json!(
                LeadFields::new()
                    .title("Website form")
                    .name("Ann")
                    .phone("+1 555 0100", "WORK")
                    .email("ann@example.com", "HOME")
                    .opportunity(1500.5)
                    .currency_id("USD")
                    .opened(true)
            ),
            json!(LeadFields::new().status_id("IN_PROCESS")),
        )
        .await;
        assert_eq!(lead.title.as_deref(), Some("Website form"));
        assert_eq!(lead.name.as_deref(), Some("Ann"));
        assert_eq!(lead.status_id.as_deref(), Some("IN_PROCESS"));
        assert_eq!(lead.opportunity, Some(1500.5));
        assert_eq!(lead.opened, Some(true));
        assert_eq!(lead.phone[0].value(), "+1 555 0100");
        assert_eq!(lead.email[0].value_type.as_deref(), Some("HOME"));
        assert!(
            lead.date_create
                .as_ref()
                .unwrap()
                .unix_timestamp()
                .is_some()
        );

        let contact: crm::Contact = crud(
            &hook,
            &mut checked,
            "contact",
            json!(
                ContactFields::new()
                    .name("Ivan")
                    .last_name("Petrov")
                    .phone("+7 999", "MOBILE")
            ),
            json!(ContactFields::new().post("CTO")),
        )
        .await;
        assert_eq!(contact.last_name.as_deref(), Some("Petrov"));
        assert_eq!(contact.post.as_deref(), Some("CTO"));

        let company: crm::Company = crud(
            &hook,
            &mut checked,
            "company",
            json!(
                CompanyFields::new()
                    .title("ACME")
                    .revenue(1000.0)
                    .web("acme.example", "WORK")
            ),
            json!(CompanyFields::new().industry("IT")),
        )
        .await;
        assert_eq!(company.title.as_deref(), Some("ACME"));

        let deal: crm::Deal = crud(
            &hook,
            &mut checked,
            "deal",
            json!(
                DealFields::new()
                    .title("Renewal")
                    .company_id(company.id)
                    .contact_id(contact.id)
                    .opportunity(99.9)
            ),
            json!(DealFields::new().stage_id("PREPARATION")),
        )
        .await;
        assert_eq!(deal.company_id, Some(company.id));
        assert_eq!(deal.stage_id.as_deref(), Some("PREPARATION"));

        let mut t = Typed {
            client: &hook,
            checked: &mut checked,
        };
        for entity in ["lead", "contact", "company"] {
            let id: Id = t
                .call(
                    &format!("crm.{entity}.add"),
                    json!({ "fields": { "TITLE": "gone", "NAME": "gone" } }),
                )
                .await;
            let deleted: bool = t
                .call(&format!("crm.{entity}.delete"), json!({ "id": id }))
                .await;
            assert!(deleted);
        }
        let deleted: bool = t.call("crm.deal.delete", json!({ "id": deal.id })).await;
        assert!(deleted);

        // The universal item API (camelCase, `fm`).
        let created: ItemEnvelope = t
            .call(
                "crm.item.add",
                json!({
                    "entityTypeId": 1,
                    "fields": ItemFields::new()
                        .title("Item lead")
                        .name("Eve")
                        .fm(MultiFieldType::Phone, "+1 555 0199", "WORK")
                }),
            )
            .await;
        let item_id = created.item.id;
        assert_eq!(created.item.title.as_deref(), Some("Item lead"));
        let updated: ItemEnvelope = t
            .call(
                "crm.item.update",
                json!({ "entityTypeId": 1, "id": item_id, "fields": ItemFields::new().title("Item lead 2") }),
            )
            .await;
        assert_eq!(updated.item.title.as_deref(), Some("Item lead 2"));
        let got: ItemEnvelope = t
            .call("crm.item.get", json!({ "entityTypeId": 1, "id": item_id }))
            .await;
        assert_eq!(got.item.id, item_id);
        let page: ItemsPage = t
            .call(
                "crm.item.list",
                json!({ "entityTypeId": 1, "filter": { "id": item_id }, "select": ["*", "fm"] }),
            )
            .await;
        assert_eq!(page.items.len(), 1);
        let fields: FieldsEnvelope = t
            .call("crm.item.fields", json!({ "entityTypeId": 1 }))
            .await;
        assert!(fields.fields.contains_key("title"));

        // Timeline comments.
        let comment_id: Id = t
            .call(
                "crm.timeline.comment.add",
                json!({ "fields": { "ENTITY_ID": lead.id, "ENTITY_TYPE": "lead", "COMMENT": "Called back" } }),
            )
            .await;
        let updated: Id = t
            .call(
                "crm.timeline.comment.update",
                json!({ "id": comment_id, "fields": { "COMMENT": "Called back twice" } }),
            )
            .await;
        assert_eq!(updated, comment_id);
        let comment: TimelineComment = t
            .call("crm.timeline.comment.get", json!({ "id": comment_id }))
            .await;
        assert_eq!(comment.comment.as_deref(), Some("Called back twice"));
        assert_eq!(comment.entity_id, Some(lead.id));
        let comments: Vec<TimelineComment> = t
            .call(
                "crm.timeline.comment.list",
                json!({ "filter": { "ENTITY_ID": lead.id, "ENTITY_TYPE": "lead" } }),
            )
            .await;
        assert!(comments.iter().any(|c| c.id == comment_id));
        let _: FieldMap = t.call("crm.timeline.comment.fields", json!({})).await;

        // Tasks and their comments.
        let created: TaskEnvelope = t
            .call(
                "tasks.task.add",
                json!({ "fields": TaskFields::new().title("Approve invoice").responsible_id(1_u64).crm_bindings([format!("L_{}", lead.id)]) }),
            )
            .await;
        let task_id = created.task.id;
        assert_eq!(created.task.title.as_deref(), Some("Approve invoice"));
        assert_eq!(created.task.status, Some(TaskStatus::Pending));
        let _: TaskEnvelope = t
            .call(
                "tasks.task.update",
                json!({ "taskId": task_id, "fields": TaskFields::new().description("Due Friday") }),
            )
            .await;
        let got: TaskEnvelope = t.call("tasks.task.get", json!({ "taskId": task_id })).await;
        assert_eq!(got.task.description.as_deref(), Some("Due Friday"));
        let page: TasksPage = t
            .call("tasks.task.list", json!({ "filter": { "ID": task_id } }))
            .await;
        assert_eq!(page.tasks.len(), 1);
        let _: FieldsEnvelope = t.call("tasks.task.getFields", json!({})).await;
        for (method, status) in [
            ("tasks.task.start", TaskStatus::InProgress),
            ("tasks.task.pause", TaskStatus::Pending),
            ("tasks.task.defer", TaskStatus::Deferred),
            ("tasks.task.renew", TaskStatus::Pending),
            ("tasks.task.complete", TaskStatus::Completed),
        ] {
            let reply: TaskEnvelope = t.call(method, json!({ "taskId": task_id })).await;
            assert_eq!(reply.task.status, Some(status), "{method}");
        }
        let comment_id: Id = t
            .call(
                "task.commentitem.add",
                json!({ "TASKID": task_id, "FIELDS": { "POST_MESSAGE": "Done?" } }),
            )
            .await;
        let comment: TaskComment = t
            .call(
                "task.commentitem.get",
                json!({ "TASKID": task_id, "ITEMID": comment_id }),
            )
            .await;
        assert_eq!(comment.post_message.as_deref(), Some("Done?"));
        let ok: bool = t
            .call(
                "task.commentitem.update",
                json!({ "TASKID": task_id, "ITEMID": comment_id, "FIELDS": { "POST_MESSAGE": "Done!" } }),
            )
            .await;
        assert!(ok);
        let comments: Vec<TaskComment> = t
            .call("task.commentitem.getlist", json!({ "TASKID": task_id }))
            .await;
        assert!(comments.iter().any(|c| c.id == comment_id));
        let ok: bool = t
            .call(
                "task.commentitem.delete",
                json!({ "TASKID": task_id, "ITEMID": comment_id }),
            )
            .await;
        assert!(ok);

        // Disk: storages, folders, files, uploads in both forms.
        let storages: Vec<Storage> = t
            .call(
                "disk.storage.getList",
                json!({ "filter": { "ENTITY_TYPE": "user", "ENTITY_ID": 1 } }),
            )
            .await;
        let storage = storages[0].clone();
        let root = storage.root_object_id.unwrap();
        let _: Storage = t
            .call("disk.storage.get", json!({ "id": storage.id }))
            .await;
        let folder: Folder = t
            .call(
                "disk.folder.addSubFolder",
                json!({ "id": root, "data": { "NAME": "Conformance" } }),
            )
            .await;
        assert_eq!(folder.parent_id, Some(root));
        let sub: Folder = t
            .call(
                "disk.folder.addSubFolder",
                json!({ "id": folder.id, "data": { "NAME": "Sub" } }),
            )
            .await;
        let _: Folder = t.call("disk.folder.get", json!({ "id": sub.id })).await;
        if let Some(added) = t
            .maybe::<Folder>(
                &implemented,
                "disk.storage.addFolder",
                json!({ "id": storage.id, "data": { "NAME": "Top" } }),
            )
            .await
        {
            assert_eq!(added.parent_id, Some(root));
        }
        let uploaded: UploadResult = t
            .call(
                "disk.folder.uploadFile",
                json!({ "id": folder.id, "data": { "NAME": "a.txt" }, "fileContent": FileData::new("a.txt", "hello").file_content() }),
            )
            .await;
        let file = uploaded
            .file()
            .expect("an inline upload returns the file")
            .clone();
        assert_eq!(file.size, Some(5));
        let step1: UploadResult = t
            .call(
                "disk.folder.uploadFile",
                json!({ "id": folder.id, "data": { "NAME": "b.txt" } }),
            )
            .await;
        assert!(step1.upload_target().is_some());
        let in_storage: UploadResult = t
            .call(
                "disk.storage.uploadFile",
                json!({ "id": storage.id, "data": { "NAME": "c.txt" }, "fileContent": FileData::new("c.txt", "x").file_content() }),
            )
            .await;
        assert!(in_storage.file().is_some());
        let children: Vec<DiskObject> = t
            .call("disk.folder.getChildren", json!({ "id": folder.id }))
            .await;
        assert_eq!(children.len(), 2, "{children:?}");
        assert!(children.iter().any(|c| c.as_folder().is_some()));
        assert!(children.iter().any(|c| c.as_file().is_some()));
        let top: Vec<DiskObject> = t
            .call("disk.storage.getChildren", json!({ "id": storage.id }))
            .await;
        assert!(top.iter().any(|o| o.id() == folder.id));
        let got: File = t.call("disk.file.get", json!({ "id": file.id })).await;
        assert_eq!(got.name.as_deref(), Some("a.txt"));
        if let Some(renamed) = t
            .maybe::<File>(
                &implemented,
                "disk.file.rename",
                json!({ "id": file.id, "newName": "a2.txt" }),
            )
            .await
        {
            assert_eq!(renamed.name.as_deref(), Some("a2.txt"));
        }
        if let Some(version) = t
            .maybe::<File>(
                &implemented,
                "disk.file.uploadVersion",
                json!({ "id": file.id, "fileContent": FileData::new("a.txt", "hello again").file_content() }),
            )
            .await
        {
            assert_eq!(version.size, Some(11));
        }
        let copy = t
            .maybe::<File>(
                &implemented,
                "disk.file.copyTo",
                json!({ "id": file.id, "targetFolderId": sub.id }),
            )
            .await
            .unwrap_or_else(|| file.clone());
        let trashed: File = t
            .call("disk.file.markDeleted", json!({ "id": copy.id }))
            .await;
        assert_ne!(trashed.deleted_type, Some(0));
        let _: Option<File> = t
            .maybe(&implemented, "disk.file.restore", json!({ "id": copy.id }))
            .await;
        let gone: bool = t.call("disk.file.delete", json!({ "id": copy.id })).await;
        assert!(gone);
        if let Some(renamed) = t
            .maybe::<Folder>(
                &implemented,
                "disk.folder.rename",
                json!({ "id": sub.id, "newName": "Sub 2" }),
            )
            .await
        {
            assert_eq!(renamed.name.as_deref(), Some("Sub 2"));
        }
        let _: Option<Folder> = t
            .maybe(
                &implemented,
                "disk.folder.copyTo",
                json!({ "id": sub.id, "targetFolderId": root }),
            )
            .await;
        let _: Option<Folder> = t
            .maybe(
                &implemented,
                "disk.folder.markDeleted",
                json!({ "id": sub.id }),
            )
            .await;
        let _: Option<Folder> = t
            .maybe(&implemented, "disk.folder.restore", json!({ "id": sub.id }))
            .await;

        // Users.
        let me: User = t.call("user.current", json!({})).await;
        assert_eq!(me.id, Id(1));
        let users: Vec<User> = t.call("user.get", json!({ "ID": 1 })).await;
        assert_eq!(users[0].id, Id(1));
        let found: Vec<User> = t
            .call(
                "user.search",
                json!({ "FILTER": { "NAME": me.name.clone().unwrap_or_default() } }),
            )
            .await;
        assert!(found.iter().any(|u| u.id == me.id));
        let new_user: Id = t
            .call(
                "user.add",
                json!({ "EMAIL": "conformance@example.com", "UF_DEPARTMENT": [1] }),
            )
            .await;
        let ok: bool = t
            .call(
                "user.update",
                json!({ "ID": new_user, "NAME": "Conformance" }),
            )
            .await;
        assert!(ok);
        let added: Vec<User> = t.call("user.get", json!({ "ID": new_user })).await;
        assert_eq!(added[0].name.as_deref(), Some("Conformance"));
        assert_eq!(added[0].departments(), vec![Id(1)]);

        // A task under control: completing it waits for the creator, who approves or returns it.
        let controlled: TaskEnvelope = t
            .call(
                "tasks.task.add",
                json!({ "fields": TaskFields::new()
                    .title("Controlled")
                    .created_by(new_user)
                    .responsible_id(1_u64)
                    .task_control(true) }),
            )
            .await;
        let task_id = controlled.task.id;
        for (method, status) in [
            ("tasks.task.complete", TaskStatus::SupposedlyCompleted),
            ("tasks.task.approve", TaskStatus::Completed),
            ("tasks.task.renew", TaskStatus::Pending),
            ("tasks.task.complete", TaskStatus::SupposedlyCompleted),
            ("tasks.task.disapprove", TaskStatus::Pending),
        ] {
            let reply: TaskEnvelope = t.call(method, json!({ "taskId": task_id })).await;
            assert_eq!(reply.task.status, Some(status), "{method}");
        }
        let delegated: TaskEnvelope = t
            .call(
                "tasks.task.delegate",
                json!({ "taskId": task_id, "userId": new_user }),
            )
            .await;
        assert_eq!(delegated.task.responsible_id, Some(new_user));
        let attached: Value = hook
            .call_raw::<Value>(
                "tasks.task.files.attach",
                json!({ "taskId": task_id, "fileId": in_storage.file().unwrap().id }),
            )
            .await
            .unwrap();
        let object: AttachedObject = t
            .call(
                "disk.attachedObject.get",
                json!({ "id": attached["attachmentId"] }),
            )
            .await;
        assert_eq!(object.object_id, Some(in_storage.file().unwrap().id));
        assert_eq!(object.entity_id, Some(task_id));

        // Chat messages and notifications.
        let message: Id = t
            .call(
                "im.message.add",
                json!({ "DIALOG_ID": new_user.to_string(), "MESSAGE": "Hi" }),
            )
            .await;
        let ok: bool = t
            .call(
                "im.message.update",
                json!({ "MESSAGE_ID": message, "MESSAGE": "Hi!" }),
            )
            .await;
        assert!(ok);
        let ok: bool = t
            .call("im.message.delete", json!({ "MESSAGE_ID": message }))
            .await;
        assert!(ok);
        let notification: Id = t
            .call(
                "im.notify.personal.add",
                json!({ "USER_ID": new_user, "MESSAGE": "Reminder" }),
            )
            .await;
        let ok: bool = t
            .call("im.notify.delete", json!({ "ID": notification }))
            .await;
        assert!(ok);

        // Open lines through the webhook.
        let line: Id = t
            .call(
                "imopenlines.config.add",
                json!({ "PARAMS": { "LINE_NAME": "Conformance line" } }),
            )
            .await;
        let config: OpenLineConfig = t
            .call("imopenlines.config.get", json!({ "CONFIG_ID": line }))
            .await;
        assert_eq!(config.line_name.as_deref(), Some("Conformance line"));
        let ok: bool = t
            .call(
                "imopenlines.config.update",
                json!({ "CONFIG_ID": line, "PARAMS": { "LINE_NAME": "Renamed line" } }),
            )
            .await;
        assert!(ok);
        let lines: Vec<OpenLineConfig> = t.call("imopenlines.config.list.get", json!({})).await;
        assert!(lines.iter().any(|l| l.id == line));

        // Connector and app-only methods through the app.
        let mut a = Typed {
            client: &app,
            checked: &mut checked,
        };
        let storage: Storage = a.call("disk.storage.getForApp", json!({})).await;
        if let Some(renamed) = a
            .maybe::<Storage>(
                &implemented,
                "disk.storage.rename",
                json!({ "id": storage.id, "newName": "App files" }),
            )
            .await
        {
            assert_eq!(renamed.name.as_deref(), Some("App files"));
        }
        let system: Id = a
            .call(
                "im.notify.system.add",
                json!({ "USER_ID": 1, "MESSAGE": "System note" }),
            )
            .await;
        assert!(system.get() > 0);
        let _: Value = app
            .call_raw::<Value>(
                "imconnector.register",
                json!({
                    "ID": "conformance",
                    "NAME": "Conformance",
                    "ICON": { "DATA_IMAGE": "data:image/svg+xml,%3Csvg%20xmlns%3D%22http://www.w3.org/2000/svg%22/%3E" },
                    "PLACEMENT_HANDLER": "https://example.com/connector",
                }),
            )
            .await
            .unwrap();
        let mut a = Typed {
            client: &app,
            checked: &mut checked,
        };
        let active: bool = a
            .call(
                "imconnector.activate",
                json!({ "CONNECTOR": "conformance", "LINE": line, "ACTIVE": 1 }),
            )
            .await;
        assert!(active);
        let status: ConnectorStatus = a
            .call(
                "imconnector.status",
                json!({ "CONNECTOR": "conformance", "LINE": line }),
            )
            .await;
        assert_eq!(status.configured, Some(true));
        let message = |id: &str, text: &str| {
            json!({
                "user": { "id": "tg-1", "name": "Ivan" },
                "message": { "id": id, "date": 1_773_265_993, "text": text },
                "chat": { "id": "tg-chat-1" },
            })
        };
        let sent: SendMessagesResult = a
            .call(
                "imconnector.send.messages",
                json!({ "CONNECTOR": "conformance", "LINE": line, "MESSAGES": [message("m1", "Hello")] }),
            )
            .await;
        assert!(sent.all_succeeded(), "{sent:?}");
        let chat = sent.results()[0].chat_id().unwrap();
        let session = sent.results()[0]
            .session
            .as_ref()
            .unwrap()
            .session_id
            .unwrap();
        let updated: SendMessagesResult = a
            .call(
                "imconnector.update.messages",
                json!({ "CONNECTOR": "conformance", "LINE": line, "MESSAGES": [message("m1", "Hello!")] }),
            )
            .await;
        assert!(updated.all_succeeded(), "{updated:?}");
        for method in [
            "imconnector.send.status.delivery",
            "imconnector.send.status.reading",
        ] {
            let _: SendMessagesResult = a
                .call(
                    method,
                    json!({ "CONNECTOR": "conformance", "LINE": line, "MESSAGES": [{
                        "im": { "chat_id": chat, "message_id": 1 },
                        "message": { "id": ["m1"], "date": 1_773_265_993 },
                        "chat": { "id": "tg-chat-1" }
                    }] }),
                )
                .await;
        }

        // The open-line session the message started.
        let user_code = format!("conformance|{line}|tg-chat-1|tg-1");
        let mut t = Typed {
            client: &hook,
            checked: &mut checked,
        };
        let dialog: Dialog = t
            .call("imopenlines.dialog.get", json!({ "USER_CODE": user_code }))
            .await;
        assert_eq!(dialog.id, chat);
        let opened: SessionChat = t
            .call(
                "imopenlines.session.open",
                json!({ "USER_CODE": user_code }),
            )
            .await;
        assert_eq!(opened.id, chat);
        let history: Session = t
            .call(
                "imopenlines.session.history.get",
                json!({ "SESSION_ID": session }),
            )
            .await;
        assert_eq!(history.session_id, Some(session));
        assert!(
            history
                .messages
                .values()
                .any(|m| m.text.as_deref() == Some("Hello!")),
            "{history:?}"
        );
        for (method, params) in [
            ("imopenlines.session.join", json!({ "CHAT_ID": chat })),
            (
                "imopenlines.session.mode.pin",
                json!({ "CHAT_ID": chat, "ACTIVATE": "Y" }),
            ),
            (
                "imopenlines.session.mode.silent",
                json!({ "CHAT_ID": chat, "ACTIVATE": "Y" }),
            ),
        ] {
            let ok: bool = t.call(method, params).await;
            assert!(ok, "{method}");
        }
        for (method, params) in [
            ("imopenlines.session.start", json!({ "CHAT_ID": chat })),
            (
                "imopenlines.session.head.vote",
                json!({ "SESSION_ID": session, "RATING": 5, "COMMENT": "Good" }),
            ),
        ] {
            let ok: bool = t.call(method, params).await;
            assert!(ok, "{method}");
        }
        let spare: Id = t
            .call(
                "imopenlines.config.add",
                json!({ "PARAMS": { "LINE_NAME": "Spare line" } }),
            )
            .await;
        let ok: bool = t
            .call("imopenlines.config.delete", json!({ "CONFIG_ID": spare }))
            .await;
        assert!(ok);
        let _: Vec<Id> = t.call("imopenlines.session.mode.unpinAll", json!({})).await;
        let _: Vec<Id> = t.call("imopenlines.session.mode.pinAll", json!({})).await;
        let deleted: SendMessagesResult = Typed {
            client: &app,
            checked: t.checked,
        }
        .call(
            "imconnector.delete.messages",
            json!({ "CONNECTOR": "conformance", "LINE": line, "MESSAGES": [message("m1", "")] }),
        )
        .await;
        assert!(deleted.success == Some(true), "{deleted:?}");

        // What the sandbox implements from outputs.toml but this scenario did not reach.
        let table: BTreeSet<&str> = super::outputs().into_iter().map(|(m, _, _)| m).collect();
        let missed: Vec<&str> = table
            .iter()
            .filter(|m| implemented.contains(**m) && !checked.contains(**m))
            .copied()
            .collect();
        let absent: Vec<&str> = table
            .iter()
            .filter(|m| !implemented.contains(**m))
            .copied()
            .collect();
        let list = |methods: &[&str]| {
            if methods.is_empty() {
                "none".to_owned()
            } else {
                methods.join(", ")
            }
        };
        println!(
            "model conformance (sandbox): {} of {} typed outputs decoded from sandbox replies; \
             not exercised: {}; not implemented by the sandbox: {}",
            checked.len(),
            table.len(),
            list(&missed),
            list(&absent)
        );
    }
}
