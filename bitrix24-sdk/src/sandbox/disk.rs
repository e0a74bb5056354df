//! The `disk` scope, and the file download and upload endpoints.
//!
//! Storages (a common one, one per user, one per application) hold a tree of folders and
//! files. Files keep their bytes in memory under a `FILE_ID`, as the portal keeps them in its
//! file table. Downloads go through signed, time-limited `DOWNLOAD_URL`s; uploads either carry
//! the content inline (`fileContent: [name, base64]`) or take two steps: the method hands out a
//! single-use `uploadUrl` and the file arrives there as `multipart/form-data`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hash, Hasher};

use axum::extract::Multipart;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use url::Url;

use super::clock::{Clock, iso8601};
use super::list::{Cond, ListShape, Op, Table, list, parse_filter, parse_order, parse_start};
use super::params::{value_bool, value_str, value_u64};
use super::registry::{CallerKind, Ctx, Registry};
use super::reply::{Fail, Outcome, Reply};
use super::server::{Shared, error_response, json_response};
use super::state::State;
use super::{SandboxPortal, oauth};

/// How long a `DOWNLOAD_URL` works: as long as the access token it carries on the portal.
const LINK_TTL: i64 = 3600;
/// How long an `uploadUrl` waits for its file.
const UPLOAD_TTL: i64 = 3600;
/// The form field the two-step upload expects the file in.
const UPLOAD_FIELD: &str = "file";

/// Everything Disk stores.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct DiskState {
    /// Storages, as `disk.storage.get` returns them.
    pub(crate) storages: Table,
    /// Folders and files share one id sequence, as on the portal.
    pub(crate) objects: Table,
    /// Files attached to other entities (tasks, comments), for `disk.attachedObject.get`.
    pub(crate) attached: Table,
    /// File bytes by `FILE_ID`.
    #[serde(with = "blobs")]
    pub(crate) contents: BTreeMap<u64, Vec<u8>>,
    pub(crate) last_file_id: u64,
    /// Pending two-step uploads by token.
    pub(crate) uploads: BTreeMap<String, PendingUpload>,
    /// Application storages by client id.
    pub(crate) app_storages: BTreeMap<String, u64>,
    /// The key download links are signed with.
    pub(crate) secret: String,
}

/// An `uploadUrl` handed out and not used yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingUpload {
    pub(crate) folder: u64,
    pub(crate) user: u64,
    pub(crate) unique: bool,
    /// `data[NAME]` of step one, which wins over the uploaded file's own name.
    pub(crate) name: Option<String>,
    pub(crate) expires: i64,
}

/// File bytes as base64 in snapshots.
mod blobs {
    use std::collections::BTreeMap;

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(
        blobs: &BTreeMap<u64, Vec<u8>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let encoded: BTreeMap<u64, String> = blobs
            .iter()
            .map(|(id, bytes)| (*id, STANDARD.encode(bytes)))
            .collect();
        encoded.serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<u64, Vec<u8>>, D::Error> {
        let encoded = BTreeMap::<u64, String>::deserialize(deserializer)?;
        encoded
            .into_iter()
            .map(|(id, text)| {
                STANDARD
                    .decode(text)
                    .map(|bytes| (id, bytes))
                    .map_err(serde::de::Error::custom)
            })
            .collect()
    }
}

impl DiskState {
    /// The signing key, created on first use.
    fn secret(&mut self) -> String {
        if self.secret.is_empty() {
            self.secret = oauth::random_token("disk");
        }
        self.secret.clone()
    }
}

/// PHP's lenient `base64_decode`: characters outside the alphabet are skipped, padding is
/// optional. The docs' own examples carry `...` inside the base64 and still upload.
pub(crate) fn decode_base64(text: &str) -> Vec<u8> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    let mut clean: String = text
        .chars()
        .filter_map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '+' | '/' => Some(c),
            '-' => Some('+'),
            '_' => Some('/'),
            _ => None,
        })
        .collect();
    // A lone trailing sextet carries no whole byte.
    if clean.len() % 4 == 1 {
        clean.pop();
    }
    LENIENT.decode(clean).unwrap_or_default()
}

/// Stores bytes in the file table and returns their `FILE_ID`.
pub(crate) fn store_blob(state: &mut State, bytes: Vec<u8>) -> u64 {
    state.disk.last_file_id += 1;
    let id = state.disk.last_file_id;
    state.disk.contents.insert(id, bytes);
    id
}

/// Builds the URLs the portal hands out: signed downloads and uploads, detail pages.
#[derive(Debug, Clone)]
pub(crate) struct Links {
    base: Url,
    secret: String,
    now: i64,
    user: u64,
}

impl Links {
    /// Links for the current call.
    pub(crate) fn new(ctx: &mut Ctx<'_>) -> Self {
        Self {
            base: ctx.base_url.clone(),
            secret: ctx.state.disk.secret(),
            now: ctx.now_unix(),
            user: ctx.caller.user_id,
        }
    }

    /// Links outside a call (inspection, the upload endpoint).
    pub(crate) fn outside(state: &mut State, base: &Url, clock: &Clock, user: u64) -> Self {
        Self {
            base: base.clone(),
            secret: state.disk.secret(),
            now: clock.unix_secs(),
            user,
        }
    }

    fn auth(&self) -> String {
        sign(
            &self.secret,
            &format!("auth:{}:{}", self.user, self.now / LINK_TTL),
        )
    }

    /// A signed link to the bytes of `file_id`, served as `name`; `ttl` 0 never expires.
    pub(crate) fn download(&self, file_id: u64, object_id: u64, name: &str, ttl: i64) -> String {
        let expires = if ttl == 0 { 0 } else { self.now + ttl };
        let payload = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("f", &file_id.to_string())
            .append_pair("o", &object_id.to_string())
            .append_pair("e", &expires.to_string())
            .append_pair("n", name)
            .finish();
        let payload = URL_SAFE_NO_PAD.encode(payload);
        let token = format!("disk|{payload}|{}", sign(&self.secret, &payload));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("auth", &self.auth())
            .append_pair("token", &token)
            .finish();
        format!("{}rest/download.json?{query}", self.base)
    }

    fn upload(&self, token: &str) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("auth", &self.auth())
            .append_pair("token", token)
            .finish();
        format!("{}rest/upload.json?{query}", self.base)
    }

    fn page(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// A keyed digest of `payload`: two `SipHash` runs over the secret and the text. Enough to tell
/// a link the sandbox issued from a forged or edited one.
fn sign(secret: &str, payload: &str) -> String {
    let mut out = String::with_capacity(32);
    for round in ["a", "b"] {
        let mut hasher = DefaultHasher::new();
        (round, secret, payload).hash(&mut hasher);
        let _ = write!(out, "{:016x}", hasher.finish());
    }
    out
}

fn text(value: &str) -> Value {
    Value::String(value.to_owned())
}

fn row(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn field_u64(row: &Map<String, Value>, name: &str) -> Option<u64> {
    row.get(name).and_then(value_u64)
}

fn field_str<'a>(row: &'a Map<String, Value>, name: &str) -> &'a str {
    row.get(name).and_then(Value::as_str).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Storages and the object tree
// ---------------------------------------------------------------------------------------------

/// Creates a storage and its root folder; returns the storage id.
fn create_storage(
    state: &mut State,
    name: &str,
    code: Option<&str>,
    entity_type: &str,
    entity_id: &str,
    user: u64,
    now: &str,
) -> u64 {
    let id = state.disk.storages.next_id();
    let root = state.disk.objects.next_id();
    state.disk.storages.put(
        id,
        row(json!({
            "ID": id.to_string(),
            "NAME": name,
            "CODE": code,
            "MODULE_ID": "disk",
            "ENTITY_TYPE": entity_type,
            "ENTITY_ID": entity_id,
            "ROOT_OBJECT_ID": root.to_string(),
        })),
    );
    state
        .disk
        .objects
        .put(root, folder_row(root, id, None, name, user, now));
    id
}

fn folder_row(
    id: u64,
    storage: u64,
    parent: Option<u64>,
    name: &str,
    user: u64,
    now: &str,
) -> Map<String, Value> {
    row(json!({
        "ID": id.to_string(),
        "NAME": name,
        "CODE": null,
        "STORAGE_ID": storage.to_string(),
        "TYPE": "folder",
        "REAL_OBJECT_ID": id.to_string(),
        "PARENT_ID": parent.map(|p| p.to_string()),
        "DELETED_TYPE": "0",
        "CREATE_TIME": now,
        "UPDATE_TIME": now,
        "DELETE_TIME": null,
        "CREATED_BY": user.to_string(),
        "UPDATED_BY": user.to_string(),
        "DELETED_BY": "0",
    }))
}

/// The common storage and one storage per user, created where missing.
pub(crate) fn ensure_storages(state: &mut State, clock: &Clock) {
    let now = clock.iso();
    let has_common = state
        .disk
        .storages
        .rows
        .values()
        .any(|s| field_str(s, "ENTITY_TYPE") == "common");
    if !has_common {
        create_storage(
            state,
            "Shared drive",
            Some("shared_files_s1"),
            "common",
            "shared_files_s1",
            1,
            &now,
        );
    }
    let users: Vec<u64> = state.users.users.rows.keys().copied().collect();
    for user in users {
        ensure_user_storage(state, user, &now);
    }
}

/// The storage of `user`, created if missing.
pub(crate) fn ensure_user_storage(state: &mut State, user: u64, now: &str) -> u64 {
    let existing = state
        .disk
        .storages
        .rows
        .iter()
        .find(|(_, s)| {
            field_str(s, "ENTITY_TYPE") == "user" && field_u64(s, "ENTITY_ID") == Some(user)
        })
        .map(|(id, _)| *id);
    if let Some(id) = existing {
        return id;
    }
    let name = super::user::get(state, user)
        .map(|u| {
            format!("{} {}", field_str(u, "NAME"), field_str(u, "LAST_NAME"))
                .trim()
                .to_owned()
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("User {user}"));
    create_storage(state, &name, None, "user", &user.to_string(), user, now)
}

fn storage_of(state: &State, object: &Map<String, Value>) -> Option<Map<String, Value>> {
    state
        .disk
        .storages
        .get(field_u64(object, "STORAGE_ID")?)
        .cloned()
}

/// The object's path below its storage's root, by names.
fn path_of(state: &State, object: &Map<String, Value>) -> String {
    let mut names = Vec::new();
    let mut current = Some(object);
    // Bounded walk: a tree deeper than the table is long would be a cycle.
    for _ in 0..=state.disk.objects.len() {
        let Some(node) = current else { break };
        let Some(parent) = field_u64(node, "PARENT_ID") else {
            break;
        };
        names.push(field_str(node, "NAME").to_owned());
        current = state.disk.objects.get(parent);
    }
    names.reverse();
    names.join("/")
}

/// An object as `get`/`getChildren` return it: every value a string, URLs added.
fn present(state: &State, object: &Map<String, Value>, links: &Links) -> Value {
    let mut out = object.clone();
    let is_file = field_str(object, "TYPE") == "file";
    let path = path_of(state, object);
    let storage = storage_of(state, object);
    let owner = storage
        .as_ref()
        .filter(|s| field_str(s, "ENTITY_TYPE") == "user")
        .map(|s| field_str(s, "ENTITY_ID").to_owned());
    let kind = if is_file { "file" } else { "path" };
    let detail = match owner {
        Some(user) => format!("company/personal/user/{user}/disk/{kind}/{path}"),
        None => format!("docs/{kind}/{path}"),
    };
    if is_file {
        let file_id = field_u64(object, "FILE_ID").unwrap_or_default();
        let id = field_u64(object, "ID").unwrap_or_default();
        out.insert(
            "DOWNLOAD_URL".into(),
            Value::String(links.download(file_id, id, field_str(object, "NAME"), LINK_TTL)),
        );
    }
    out.insert("DETAIL_URL".into(), Value::String(links.page(&detail)));
    Value::Object(out)
}

/// An object as a method that just created it returns it: ids and counters as numbers,
/// `DELETED_BY` null (the portal serialises the new object, not a row read back).
fn fresh(mut value: Value) -> Value {
    if let Value::Object(map) = &mut value {
        for key in [
            "ID",
            "REAL_OBJECT_ID",
            "DELETED_TYPE",
            "GLOBAL_CONTENT_VERSION",
            "FILE_ID",
        ] {
            if let Some(number) = map.get(key).and_then(value_u64) {
                map.insert(key.to_owned(), json!(number));
            }
        }
        if map.get("DELETED_BY").and_then(value_u64) == Some(0) {
            map.insert("DELETED_BY".into(), Value::Null);
        }
    }
    value
}

/// Live (not trashed) children of `folder`.
fn live_children(state: &State, folder: u64) -> impl Iterator<Item = &Map<String, Value>> {
    state.disk.objects.rows.values().filter(move |o| {
        field_u64(o, "PARENT_ID") == Some(folder) && field_str(o, "DELETED_TYPE") == "0"
    })
}

fn name_taken(state: &State, folder: u64, name: &str) -> bool {
    live_children(state, folder).any(|o| field_str(o, "NAME").to_lowercase() == name.to_lowercase())
}

/// `file.docx` → `file (1).docx`, `file (2).docx`, … until the name is free.
fn unique_name(state: &State, folder: u64, name: &str) -> String {
    if !name_taken(state, folder, name) {
        return name.to_owned();
    }
    let (stem, extension) = match name.rfind('.') {
        Some(dot) if dot > 0 => (&name[..dot], &name[dot..]),
        _ => (name, ""),
    };
    // As many tries as there are objects in the folder always find a free name.
    let tries = live_children(state, folder).count() as u64 + 1;
    (1..=tries)
        .map(|n| format!("{stem} ({n}){extension}"))
        .find(|candidate| !name_taken(state, folder, candidate))
        .unwrap_or_else(|| name.to_owned())
}

fn duplicate_name() -> Fail {
    Fail::bad_request(
        "DISK_OBJ_22000",
        "A file or folder with this name already exists",
    )
}

fn not_found(id: impl std::fmt::Display) -> Fail {
    Fail::bad_request(
        "ERROR_NOT_FOUND",
        format!("Could not find entity with id `{id}`"),
    )
}

fn invalid_parameter(position: u8) -> Fail {
    Fail::bad_request(
        "ERROR_ARGUMENT",
        format!("Invalid value of parameter {{Parameter #{position}}}"),
    )
}

/// Stores a new file in `folder` and returns its id.
fn put_file(
    state: &mut State,
    folder: u64,
    name: &str,
    bytes: Vec<u8>,
    unique: bool,
    user: u64,
    now: &str,
) -> Result<u64, Fail> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Fail::bad_request(
            "DISK_BASE_SERVICE_22001",
            "Error: required parameter NAME (DISK_BASE_SERVICE_22001)",
        ));
    }
    let storage = live_folder(state, folder)
        .and_then(|f| field_u64(f, "STORAGE_ID"))
        .ok_or_else(|| not_found(folder))?;
    let name = if unique {
        unique_name(state, folder, name)
    } else if name_taken(state, folder, name) {
        return Err(duplicate_name());
    } else {
        name.to_owned()
    };
    let size = bytes.len();
    let file_id = store_blob(state, bytes);
    let id = state.disk.objects.next_id();
    state.disk.objects.put(
        id,
        row(json!({
            "ID": id.to_string(),
            "NAME": name,
            "CODE": null,
            "STORAGE_ID": storage.to_string(),
            "TYPE": "file",
            "PARENT_ID": folder.to_string(),
            "DELETED_TYPE": "0",
            "GLOBAL_CONTENT_VERSION": "1",
            "FILE_ID": file_id.to_string(),
            "SIZE": size.to_string(),
            "CREATE_TIME": now,
            "UPDATE_TIME": now,
            "DELETE_TIME": null,
            "CREATED_BY": user.to_string(),
            "UPDATED_BY": user.to_string(),
            "DELETED_BY": "0",
        })),
    );
    Ok(id)
}

fn live_folder(state: &State, id: u64) -> Option<&Map<String, Value>> {
    state
        .disk
        .objects
        .get(id)
        .filter(|o| field_str(o, "TYPE") == "folder" && field_str(o, "DELETED_TYPE") == "0")
}

fn folder(state: &State, id: u64) -> Option<&Map<String, Value>> {
    state
        .disk
        .objects
        .get(id)
        .filter(|o| field_str(o, "TYPE") == "folder")
}

/// A file (trashed or not) by id, for other modules that link to Disk files (`n123`).
pub(crate) fn file_by_id(state: &State, id: u64) -> Option<&Map<String, Value>> {
    state
        .disk
        .objects
        .get(id)
        .filter(|o| field_str(o, "TYPE") == "file")
}

/// The id parameter, or the documented `ERROR_ARGUMENT` naming its position.
fn require_id(ctx: &Ctx<'_>, position: u8) -> Result<u64, Fail> {
    ctx.params
        .u64("id")
        .filter(|id| *id > 0)
        .ok_or_else(|| invalid_parameter(position))
}

// ---------------------------------------------------------------------------------------------
// Attached objects
// ---------------------------------------------------------------------------------------------

/// What an attachment belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Owner<'a> {
    pub(crate) module: &'a str,
    pub(crate) entity_type: &'a str,
    pub(crate) entity_id: u64,
}

/// Attaches file `object_id` to `owner`; `None` when there is no such file.
pub(crate) fn attach(
    state: &mut State,
    object_id: u64,
    owner: Owner<'_>,
    user: u64,
    now: &str,
) -> Option<u64> {
    file_by_id(state, object_id)?;
    let id = state.disk.attached.next_id();
    state.disk.attached.put(
        id,
        row(json!({
            "ID": id.to_string(),
            "OBJECT_ID": object_id.to_string(),
            "MODULE_ID": owner.module,
            "ENTITY_TYPE": owner.entity_type,
            "ENTITY_ID": owner.entity_id.to_string(),
            "CREATE_TIME": now,
            "CREATED_BY": user.to_string(),
        })),
    );
    Some(id)
}

/// Removes an attachment; the file stays on Disk.
pub(crate) fn detach(state: &mut State, attachment_id: u64) {
    state.disk.attached.remove(attachment_id);
}

/// The Disk file an attachment points to.
pub(crate) fn attachment_object(state: &State, attachment_id: u64) -> Option<u64> {
    state
        .disk
        .attached
        .get(attachment_id)
        .and_then(|a| field_u64(a, "OBJECT_ID"))
}

/// An attachment as comments list it: `ATTACHMENT_ID`, `NAME`, `SIZE`, `FILE_ID` (the Disk
/// file), `DOWNLOAD_URL`, `VIEW_URL`.
pub(crate) fn attachment_summary(
    state: &State,
    links: &Links,
    attachment_id: u64,
) -> Option<Value> {
    let object_id = attachment_object(state, attachment_id)?;
    let file = file_by_id(state, object_id)?;
    let name = field_str(file, "NAME");
    let url = links.download(
        field_u64(file, "FILE_ID").unwrap_or_default(),
        object_id,
        name,
        LINK_TTL,
    );
    Some(json!({
        "ATTACHMENT_ID": attachment_id.to_string(),
        "NAME": name,
        "SIZE": field_str(file, "SIZE"),
        "FILE_ID": object_id.to_string(),
        "DOWNLOAD_URL": url,
        "VIEW_URL": url,
    }))
}

// ---------------------------------------------------------------------------------------------
// Methods
// ---------------------------------------------------------------------------------------------

/// Registers the `disk.*` methods.
pub(crate) fn register(registry: &mut Registry) {
    registry.method("disk.storage.getList", storage_list);
    registry.method("disk.storage.get", storage_get);
    registry.method("disk.storage.getForApp", storage_for_app);
    registry.method("disk.storage.getChildren", storage_children);
    registry.unbatchable("disk.storage.uploadFile", storage_upload);
    registry.method("disk.folder.get", folder_get);
    registry.method("disk.folder.getChildren", folder_children);
    registry.method("disk.folder.addSubFolder", folder_add_subfolder);
    registry.unbatchable("disk.folder.uploadFile", folder_upload);
    registry.method("disk.file.get", file_get);
    registry.method("disk.file.delete", file_delete);
    registry.method("disk.file.markDeleted", file_mark_deleted);
    registry.method("disk.attachedObject.get", attached_get);
}

/// Disk filters read a `%` inside a plain key's value as a LIKE pattern (the docs filter
/// storages with `{"NAME": "%Bitrix24%"}`).
fn disk_filter(filter: Option<&Value>) -> Result<Vec<Cond>, Fail> {
    let Some(Value::Object(map)) = filter else {
        return parse_filter(filter);
    };
    let mut rewritten = Map::new();
    for (key, value) in map {
        let plain = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        match value {
            Value::String(s) if plain && s.contains('%') => {
                rewritten.insert(format!("=%{key}"), value.clone());
            }
            _ => {
                rewritten.insert(key.clone(), value.clone());
            }
        }
    }
    parse_filter(Some(&Value::Object(rewritten)))
}

const SHAPE: ListShape<'static> = ListShape {
    id_field: "ID",
    default_desc: false,
};

/// `disk.storage.getList`.
fn storage_list(ctx: &mut Ctx<'_>) -> Outcome {
    let conds = disk_filter(ctx.params.get("filter"))?;
    let order = parse_order(ctx.params.get("order"));
    let page = list(
        &ctx.state.disk.storages,
        &conds,
        &order,
        parse_start(ctx.params),
        SHAPE,
    );
    let rows = page
        .rows
        .iter()
        .map(|r| Value::Object((*r).clone()))
        .collect();
    Ok(Reply::page(
        Value::Array(rows),
        page.total.or(Some(0)),
        page.next,
        page.work,
    ))
}

/// `disk.storage.get`.
fn storage_get(ctx: &mut Ctx<'_>) -> Outcome {
    let id = require_id(ctx, 0)?;
    let storage = ctx
        .state
        .disk
        .storages
        .get(id)
        .ok_or_else(|| not_found(id))?;
    Ok(Reply::new(Value::Object(storage.clone())))
}

/// `disk.storage.getForApp`: the calling application's storage, created on first call.
fn storage_for_app(ctx: &mut Ctx<'_>) -> Outcome {
    let CallerKind::App { client_id } = &ctx.caller.kind else {
        return Err(Fail::bad_request(
            "ACCESS_DENIED",
            "Access denied! Application context required",
        ));
    };
    let client_id = client_id.clone();
    let id = match ctx.state.disk.app_storages.get(&client_id) {
        Some(id) if ctx.state.disk.storages.get(*id).is_some() => *id,
        _ => {
            let app_number = ctx.state.disk.app_storages.len() + 1;
            let now = ctx.now_iso();
            let id = create_storage(
                ctx.state,
                &client_id,
                None,
                "restapp",
                &app_number.to_string(),
                ctx.caller.user_id,
                &now,
            );
            ctx.state.disk.app_storages.insert(client_id, id);
            id
        }
    };
    let storage = ctx
        .state
        .disk
        .storages
        .get(id)
        .ok_or_else(|| not_found(id))?;
    Ok(Reply::new(Value::Object(storage.clone())))
}

/// Lists the live children of `folder` with the caller's filter, order and paging.
fn children(ctx: &mut Ctx<'_>, folder: u64) -> Outcome {
    let mut conds = disk_filter(ctx.params.get("filter"))?;
    conds.push(Cond::Field {
        field: "PARENT_ID".into(),
        op: Op::Eq,
        value: Value::String(folder.to_string()),
    });
    conds.push(Cond::Field {
        field: "DELETED_TYPE".into(),
        op: Op::Eq,
        value: Value::String("0".into()),
    });
    let order = parse_order(ctx.params.get("order"));
    let links = Links::new(ctx);
    let state = &*ctx.state;
    let page = list(
        &state.disk.objects,
        &conds,
        &order,
        parse_start(ctx.params),
        SHAPE,
    );
    let rows = page
        .rows
        .iter()
        .map(|r| present(state, r, &links))
        .collect();
    Ok(Reply::page(
        Value::Array(rows),
        page.total.or(Some(0)),
        page.next,
        page.work,
    ))
}

/// `disk.storage.getChildren`.
fn storage_children(ctx: &mut Ctx<'_>) -> Outcome {
    let id = require_id(ctx, 0)?;
    let root = ctx
        .state
        .disk
        .storages
        .get(id)
        .and_then(|s| field_u64(s, "ROOT_OBJECT_ID"))
        .ok_or_else(|| not_found(id))?;
    children(ctx, root)
}

/// `disk.folder.getChildren`.
fn folder_children(ctx: &mut Ctx<'_>) -> Outcome {
    let id = require_id(ctx, 1)?;
    folder(ctx.state, id).ok_or_else(|| not_found(id))?;
    children(ctx, id)
}

/// `disk.folder.get`.
fn folder_get(ctx: &mut Ctx<'_>) -> Outcome {
    let id = require_id(ctx, 1)?;
    let links = Links::new(ctx);
    let folder = folder(ctx.state, id).ok_or_else(|| not_found(id))?;
    Ok(Reply::new(present(ctx.state, folder, &links)))
}

/// `disk.folder.addSubFolder`.
fn folder_add_subfolder(ctx: &mut Ctx<'_>) -> Outcome {
    let id = require_id(ctx, 0)?;
    let name = ctx
        .params
        .object("data")
        .and_then(|data| {
            data.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("NAME"))
                .and_then(|(_, v)| value_str(v))
        })
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid_parameter(1))?;
    let storage = live_folder(ctx.state, id)
        .and_then(|f| field_u64(f, "STORAGE_ID"))
        .ok_or_else(|| not_found(id))?;
    if name_taken(ctx.state, id, &name) {
        return Err(duplicate_name());
    }
    let now = ctx.now_iso();
    let new_id = ctx.state.disk.objects.next_id();
    ctx.state.disk.objects.put(
        new_id,
        folder_row(new_id, storage, Some(id), &name, ctx.caller.user_id, &now),
    );
    let links = Links::new(ctx);
    let created = ctx
        .state
        .disk
        .objects
        .get(new_id)
        .ok_or_else(|| not_found(new_id))?;
    Ok(Reply::new(fresh(present(ctx.state, created, &links))))
}

/// `disk.folder.uploadFile` (also spelled `uploadfile`).
fn folder_upload(ctx: &mut Ctx<'_>) -> Outcome {
    let id = require_id(ctx, 0)?;
    upload_into(ctx, id)
}

/// `disk.storage.uploadFile`: into the storage's root folder.
fn storage_upload(ctx: &mut Ctx<'_>) -> Outcome {
    let id = require_id(ctx, 0)?;
    let root = ctx
        .state
        .disk
        .storages
        .get(id)
        .and_then(|s| field_u64(s, "ROOT_OBJECT_ID"))
        .ok_or_else(|| not_found(id))?;
    upload_into(ctx, root)
}

/// Both upload methods: inline content, or a single-use `uploadUrl` when there is none.
fn upload_into(ctx: &mut Ctx<'_>, folder: u64) -> Outcome {
    live_folder(ctx.state, folder).ok_or_else(|| not_found(folder))?;
    let unique = ctx
        .params
        .get("generateUniqueName")
        .and_then(value_bool)
        .unwrap_or(false);
    let name = ctx.params.object("data").and_then(|data| {
        data.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("NAME"))
            .and_then(|(_, v)| value_str(v))
    });
    if let Some(rights) = ctx.params.get("rights") {
        let valid = match rights {
            Value::Array(items) => items.iter().all(Value::is_object),
            Value::String(s) => s.is_empty(),
            _ => false,
        };
        if !valid {
            return Err(Fail::bad_request("", "Invalid rights format"));
        }
    }
    let Some(content) = ctx.params.get("fileContent").filter(|v| !v.is_null()) else {
        let token = format!("disk|{}", oauth::random_token("up"));
        let pending = PendingUpload {
            folder,
            user: ctx.caller.user_id,
            unique,
            name,
            expires: ctx.now_unix() + UPLOAD_TTL,
        };
        let now = ctx.now_unix();
        ctx.state.disk.uploads.retain(|_, p| p.expires >= now);
        ctx.state.disk.uploads.insert(token.clone(), pending);
        let links = Links::new(ctx);
        return Ok(Reply::new(
            json!({ "field": UPLOAD_FIELD, "uploadUrl": links.upload(&token) }),
        ));
    };
    let encoded = match content {
        Value::Array(items) => items.get(1).and_then(value_str).unwrap_or_default(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    };
    let bytes = decode_base64(&encoded);
    if bytes.is_empty() {
        return Err(Fail::bad_request(
            "ERROR_COULD_NOT_SAVE_FILE",
            "Could not save file",
        ));
    }
    // `data[NAME]` is the documented source of the name; the portal insists on it.
    let Some(name) = name.filter(|n| !n.trim().is_empty()) else {
        return Err(Fail::bad_request(
            "DISK_BASE_SERVICE_22001",
            "Error: required parameter NAME (DISK_BASE_SERVICE_22001)",
        ));
    };
    let now = ctx.now_iso();
    let id = put_file(
        ctx.state,
        folder,
        &name,
        bytes,
        unique,
        ctx.caller.user_id,
        &now,
    )?;
    let links = Links::new(ctx);
    let created = ctx
        .state
        .disk
        .objects
        .get(id)
        .ok_or_else(|| not_found(id))?;
    Ok(Reply::new(fresh(present(ctx.state, created, &links))))
}

/// `disk.file.get`.
fn file_get(ctx: &mut Ctx<'_>) -> Outcome {
    let id = require_id(ctx, 0)?;
    let links = Links::new(ctx);
    let file = file_by_id(ctx.state, id).ok_or_else(|| not_found(id))?;
    Ok(Reply::new(present(ctx.state, file, &links)))
}

/// `disk.file.delete`: gone for good, bytes included.
fn file_delete(ctx: &mut Ctx<'_>) -> Outcome {
    let id = require_id(ctx, 0)?;
    let file = file_by_id(ctx.state, id).ok_or_else(|| not_found(id))?;
    let file_id = field_u64(file, "FILE_ID");
    ctx.state.disk.objects.remove(id);
    if let Some(file_id) = file_id {
        ctx.state.disk.contents.remove(&file_id);
    }
    Ok(Reply::new(json!(true)))
}

/// `disk.file.markDeleted`: into the trash (`DELETED_TYPE` 3).
fn file_mark_deleted(ctx: &mut Ctx<'_>) -> Outcome {
    let id = require_id(ctx, 0)?;
    file_by_id(ctx.state, id).ok_or_else(|| not_found(id))?;
    let now = ctx.now_iso();
    let user = ctx.caller.user_id.to_string();
    if let Some(file) = ctx.state.disk.objects.get_mut(id)
        && field_str(file, "DELETED_TYPE") == "0"
    {
        file.insert("DELETED_TYPE".into(), text("3"));
        file.insert("DELETE_TIME".into(), Value::String(now));
        file.insert("DELETED_BY".into(), Value::String(user));
    }
    let links = Links::new(ctx);
    let file = file_by_id(ctx.state, id).ok_or_else(|| not_found(id))?;
    Ok(Reply::new(present(ctx.state, file, &links)))
}

/// `disk.attachedObject.get`.
fn attached_get(ctx: &mut Ctx<'_>) -> Outcome {
    let id = ctx
        .params
        .u64("id")
        .filter(|id| *id > 0)
        .ok_or_else(|| invalid_parameter(0))?;
    let links = Links::new(ctx);
    let attached = ctx
        .state
        .disk
        .attached
        .get(id)
        .ok_or_else(|| not_found(id))?;
    let mut out = attached.clone();
    if let Some(file) = field_u64(attached, "OBJECT_ID").and_then(|o| file_by_id(ctx.state, o)) {
        let object_id = field_u64(file, "ID").unwrap_or_default();
        let name = field_str(file, "NAME");
        out.insert(
            "DOWNLOAD_URL".into(),
            Value::String(links.download(
                field_u64(file, "FILE_ID").unwrap_or_default(),
                object_id,
                name,
                LINK_TTL,
            )),
        );
        out.insert("NAME".into(), text(name));
        out.insert("SIZE".into(), text(field_str(file, "SIZE")));
    }
    Ok(Reply::new(Value::Object(out)))
}

// ---------------------------------------------------------------------------------------------
// Download and upload endpoints
// ---------------------------------------------------------------------------------------------

fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A download token's contents, once its signature and age check out.
struct Grant {
    file_id: u64,
    object_id: u64,
    name: String,
}

fn verify(secret: &str, token: &str, now: i64) -> Option<Grant> {
    let mut parts = token.splitn(3, '|');
    let (Some("disk"), Some(payload), Some(signature)) = (parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if sign(secret, payload) != signature {
        return None;
    }
    let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let fields: BTreeMap<String, String> =
        url::form_urlencoded::parse(&payload).into_owned().collect();
    let expires: i64 = fields.get("e")?.parse().ok()?;
    if expires != 0 && expires < now {
        return None;
    }
    Some(Grant {
        file_id: fields.get("f")?.parse().ok()?,
        object_id: fields.get("o")?.parse().ok()?,
        name: fields.get("n").cloned().unwrap_or_default(),
    })
}

/// The MIME type the portal would send for a file name.
fn content_type(name: &str) -> &'static str {
    let extension = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "json" => "application/json",
        "xml" => "application/xml",
        "html" | "htm" => "text/html",
        "zip" => "application/zip",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xls" => "application/vnd.ms-excel",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

/// `attachment; filename="…"; filename*=UTF-8''…`, with an ASCII fallback name.
fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// `GET /rest/download.json?token=…`: a signed file download.
pub(crate) fn download(shared: &Shared, query: &str) -> Response {
    let not_found = || {
        error_response(&Fail::new(
            404,
            "ERROR_NOT_FOUND",
            "Could not find the file",
        ))
    };
    let Some(token) = query_param(query, "token") else {
        return not_found();
    };
    let now = shared.clock.unix_secs();
    let found = shared.with_state(|state| {
        let grant = verify(&state.disk.secret(), &token, now)?;
        let name = if grant.object_id == 0 {
            grant.name.clone()
        } else {
            let file = file_by_id(state, grant.object_id)?;
            // A link names one version of the file; a replaced or deleted one is gone.
            if field_u64(file, "FILE_ID") != Some(grant.file_id) {
                return None;
            }
            field_str(file, "NAME").to_owned()
        };
        let bytes = state.disk.contents.get(&grant.file_id)?.clone();
        Some((name, bytes))
    });
    let Some((name, bytes)) = found else {
        return not_found();
    };
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&name)),
    );
    if let Ok(value) = HeaderValue::from_str(&content_disposition(&name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// `POST /rest/upload.json?token=…`: step two of a two-step upload. The token is used up by
/// the first attempt, whatever its outcome.
pub(crate) async fn upload(shared: &Shared, query: &str, mut multipart: Multipart) -> Response {
    let started = shared.clock.unix();
    let now = shared.clock.unix_secs();
    let pending = query_param(query, "token")
        .and_then(|token| shared.with_state(|state| state.disk.uploads.remove(&token)))
        .filter(|pending| pending.expires >= now);
    let Some(pending) = pending else {
        return error_response(&Fail::new(
            404,
            "ERROR_NOT_FOUND",
            "The upload link is unknown, used or expired",
        ));
    };
    let could_not_save = || {
        error_response(&Fail::bad_request(
            "ERROR_COULD_NOT_SAVE_FILE",
            "Could not save file",
        ))
    };
    let mut received: Option<(Option<String>, Vec<u8>)> = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(mut field)) => {
                if received.is_some() || field.name() != Some(UPLOAD_FIELD) {
                    continue;
                }
                let file_name = field.file_name().map(str::to_owned);
                let mut bytes = Vec::new();
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                        Ok(None) => break,
                        Err(_) => return could_not_save(),
                    }
                }
                received = Some((file_name, bytes));
            }
            Ok(None) => break,
            Err(_) => return could_not_save(),
        }
    }
    let Some((file_name, bytes)) = received else {
        return error_response(&Fail::bad_request(
            "ERROR_ARGUMENT",
            format!("No file in the form field `{UPLOAD_FIELD}`"),
        ));
    };
    let name = pending
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or(file_name)
        .unwrap_or_default();
    let stored = shared.with_state(|state| {
        let iso = iso8601(now);
        let id = put_file(
            state,
            pending.folder,
            &name,
            bytes,
            pending.unique,
            pending.user,
            &iso,
        )?;
        let links = Links::outside(state, &shared.base_url, &shared.clock, pending.user);
        let created = state.disk.objects.get(id).ok_or_else(|| not_found(id))?;
        Ok::<Value, Fail>(fresh(present(state, created, &links)))
    });
    match stored {
        Ok(file) => {
            let finish = shared.clock.unix().max(started);
            #[allow(clippy::cast_possible_truncation)]
            let time = json!({
                "start": started,
                "finish": finish,
                "duration": finish - started,
                "processing": finish - started,
                "date_start": iso8601(started.floor() as i64),
                "date_finish": iso8601(finish.floor() as i64),
            });
            json_response(StatusCode::OK, &json!({ "result": file, "time": time }))
        }
        Err(fail) => error_response(&fail),
    }
}

impl SandboxPortal {
    /// A Disk file's name and content, by object id (as `disk.file.get` takes it).
    pub fn disk_file(&self, id: u64) -> Option<(String, Vec<u8>)> {
        self.shared.with_state(|state| {
            let file = file_by_id(state, id)?;
            let bytes = state
                .disk
                .contents
                .get(&field_u64(file, "FILE_ID")?)?
                .clone();
            Some((field_str(file, "NAME").to_owned(), bytes))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::registry::{Caller, CallerKind};
    use super::*;

    fn state() -> State {
        let mut state = State::default();
        let clock = Clock::new();
        super::super::user::seed(&mut state, &clock);
        state
    }

    fn call(
        state: &mut State,
        handler: fn(&mut Ctx<'_>) -> Outcome,
        params: Value,
        app: bool,
    ) -> Outcome {
        let caller = Caller {
            key: "test".into(),
            user_id: 1,
            kind: if app {
                CallerKind::App {
                    client_id: "local.app".into(),
                }
            } else {
                CallerKind::Webhook
            },
        };
        crate::sandbox::testing::call(state, &caller, handler, params).0
    }

    fn root_of_user(state: &State, user: u64) -> u64 {
        let storage = state
            .disk
            .storages
            .rows
            .values()
            .find(|s| {
                field_str(s, "ENTITY_TYPE") == "user" && field_u64(s, "ENTITY_ID") == Some(user)
            })
            .unwrap();
        field_u64(storage, "ROOT_OBJECT_ID").unwrap()
    }

    #[test]
    fn seed_creates_common_and_user_storages() {
        let state = state();
        let types: Vec<&str> = state
            .disk
            .storages
            .rows
            .values()
            .map(|s| field_str(s, "ENTITY_TYPE"))
            .collect();
        assert_eq!(types.iter().filter(|t| **t == "common").count(), 1);
        assert_eq!(
            types.iter().filter(|t| **t == "user").count(),
            state.users.users.len()
        );
    }

    #[test]
    fn inline_upload_unique_names_and_duplicates() {
        let mut state = state();
        let root = root_of_user(&state, 1);
        let request = json!({ "id": root, "data": { "NAME": "report.docx" }, "fileContent": ["x", "aGVsbG8="] });
        let first = call(&mut state, folder_upload, request.clone(), false)
            .unwrap()
            .result;
        assert!(
            first["ID"].is_u64()
                && first["FILE_ID"].is_u64()
                && first["SIZE"] == "5"
                && first["DELETED_BY"].is_null()
        );
        let duplicate = call(&mut state, folder_upload, request.clone(), false).unwrap_err();
        assert_eq!(duplicate.code, "DISK_OBJ_22000");
        let mut unique = request;
        unique["generateUniqueName"] = json!(true);
        let second = call(&mut state, folder_upload, unique.clone(), false)
            .unwrap()
            .result;
        assert_eq!(second["NAME"], "report (1).docx");
        let third = call(&mut state, folder_upload, unique, false)
            .unwrap()
            .result;
        assert_eq!(third["NAME"], "report (2).docx");
        let listed = call(
            &mut state,
            folder_children,
            json!({ "id": root, "order": { "NAME": "DESC" } }),
            false,
        )
        .unwrap();
        assert_eq!(listed.total, Some(3));
        assert_eq!(listed.result[0]["NAME"], "report.docx");
        assert_eq!(listed.result[0]["ID"], first["ID"].to_string());
    }

    #[test]
    fn lenient_base64_like_php() {
        assert_eq!(decode_base64("aGVs...bG8="), b"hello");
        assert_eq!(decode_base64("aGVsbG8"), b"hello");
        assert!(decode_base64("").is_empty());
    }

    #[test]
    fn errors_are_the_documented_ones() {
        let mut state = state();
        assert_eq!(
            call(&mut state, file_get, json!({}), false)
                .unwrap_err()
                .description,
            "Invalid value of parameter {Parameter #0}"
        );
        assert_eq!(
            call(&mut state, folder_get, json!({}), false)
                .unwrap_err()
                .description,
            "Invalid value of parameter {Parameter #1}"
        );
        let missing = call(&mut state, file_get, json!({ "id": 999 }), false).unwrap_err();
        assert_eq!(
            (missing.code.as_str(), missing.description.as_str()),
            ("ERROR_NOT_FOUND", "Could not find entity with id `999`")
        );
        let webhook = call(&mut state, storage_for_app, json!({}), false).unwrap_err();
        assert_eq!(webhook.code, "ACCESS_DENIED");
        let app = call(&mut state, storage_for_app, json!({}), true)
            .unwrap()
            .result;
        assert_eq!(app["ENTITY_TYPE"], "restapp");
        let again = call(&mut state, storage_for_app, json!({}), true)
            .unwrap()
            .result;
        assert_eq!(app["ID"], again["ID"]);
    }

    #[test]
    fn signed_links_reject_tampering_and_age() {
        let secret = "s";
        let links = Links {
            base: Url::parse("http://h/").unwrap(),
            secret: secret.into(),
            now: 100,
            user: 1,
        };
        let url = links.download(7, 3, "a.txt", 10);
        let token = query_param(url.split_once('?').unwrap().1, "token").unwrap();
        assert!(verify(secret, &token, 105).is_some());
        assert!(verify(secret, &token, 111).is_none());
        assert!(verify("other", &token, 105).is_none());
        let forged = token.replacen("disk|", "disk|A", 1);
        assert!(verify(secret, &forged, 105).is_none());
    }

    #[test]
    fn two_step_upload_hands_out_a_single_use_url() {
        let mut state = state();
        let root = root_of_user(&state, 1);
        let reply = call(&mut state, folder_upload, json!({ "id": root }), false)
            .unwrap()
            .result;
        assert_eq!(reply["field"], "file");
        let url = reply["uploadUrl"].as_str().unwrap();
        assert!(url.starts_with("http://127.0.0.1:1/rest/upload.json?"));
        let token = query_param(url.split_once('?').unwrap().1, "token").unwrap();
        assert!(state.disk.uploads.contains_key(&token));
    }
}
