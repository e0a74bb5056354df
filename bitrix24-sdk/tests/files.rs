//! File transfers and attachments against the sandbox portal (feature `sandbox`): inline and
//! two-step Disk uploads, downloads, the size threshold, attachments to tasks, task comments,
//! CRM timeline comments and CRM file fields, and streaming without buffering.
#![cfg(feature = "sandbox")]
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)]

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bitrix24::disk::File;
use bitrix24::files::{DiskAttachment, FileContent, FileData, FilesExt, TaskFile, UploadSource};
use bitrix24::sandbox::SandboxPortal;
use bitrix24::{Client, ErrorKind, Limits, RetryPolicy};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, ReadBuf};

const MIB: usize = 1024 * 1024;

async fn start() -> Arc<SandboxPortal> {
    Arc::new(
        SandboxPortal::builder()
            .limits(Limits::unlimited())
            .start()
            .await
            .unwrap(),
    )
}

fn client(portal: &SandboxPortal) -> Client {
    Client::builder()
        .webhook(portal.webhook_url())
        .limits(Limits::unlimited())
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

async fn call(client: &Client, method: &str, params: Value) -> Value {
    client
        .call_raw::<Value>(method, params)
        .await
        .unwrap_or_else(|error| panic!("{method}: {error}"))
}

fn number(value: &Value) -> u64 {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not an id: {value}"))
}

/// User 1's root folder.
async fn root_folder(client: &Client) -> u64 {
    let storages = call(
        client,
        "disk.storage.getList",
        json!({ "filter": { "ENTITY_TYPE": "user", "ENTITY_ID": 1 } }),
    )
    .await;
    number(&storages[0]["ROOT_OBJECT_ID"])
}

/// How many upload calls (either method) the portal has seen.
fn upload_calls(portal: &SandboxPortal) -> usize {
    portal
        .requests()
        .iter()
        .filter(|r| {
            r.method.eq_ignore_ascii_case("disk.folder.uploadFile")
                || r.method.eq_ignore_ascii_case("disk.storage.uploadFile")
        })
        .count()
}

/// Bytes that differ from position to position, so a shifted or truncated copy shows.
fn pattern(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_u32;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[1]
        })
        .collect()
}

fn download_url(file: &File) -> &str {
    file.download_url.as_deref().unwrap()
}

/// A reader that counts what is read from it, notes the largest buffer it was offered, and
/// runs a hook on its first read.
struct Probe<R> {
    inner: R,
    read: Arc<AtomicU64>,
    largest_buffer: Arc<AtomicUsize>,
    on_first_read: Option<Box<dyn FnOnce() + Send>>,
}

impl<R> Probe<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            read: Arc::new(AtomicU64::new(0)),
            largest_buffer: Arc::new(AtomicUsize::new(0)),
            on_first_read: None,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Probe<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(hook) = self.on_first_read.take() {
            hook();
        }
        self.largest_buffer
            .fetch_max(buf.remaining(), Ordering::SeqCst);
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let got = (buf.filled().len() - before) as u64;
        self.read.fetch_add(got, Ordering::SeqCst);
        polled
    }
}

#[tokio::test]
async fn small_files_go_inline_in_one_call_and_download_back() {
    let portal = start().await;
    let client = client(&portal);
    let folder = root_folder(&client).await;
    let content = pattern(10 * 1024);
    let before = upload_calls(&portal);

    let file = client
        .files()
        .upload_to_folder(
            folder,
            UploadSource::from_bytes("small.bin", content.clone()),
        )
        .await
        .unwrap();

    assert_eq!(upload_calls(&portal) - before, 1);
    assert_eq!(file.name.as_deref(), Some("small.bin"));
    let id = file.id.get();
    assert_eq!(portal.disk_file(id).unwrap().1, content);

    let downloaded = client.files().download(download_url(&file)).await.unwrap();
    assert_eq!(&downloaded[..], &content[..]);
}

#[tokio::test]
async fn large_files_go_in_two_steps_and_stream_back() {
    let portal = start().await;
    let client = client(&portal);
    let folder = root_folder(&client).await;
    let content = pattern(3 * MIB);

    let progress = Arc::new(Mutex::new(Vec::new()));
    let log = progress.clone();
    let file = client
        .files()
        .upload_to_folder(
            folder,
            UploadSource::from_bytes("large.bin", content.clone()),
        )
        .on_progress(move |sent, total| log.lock().unwrap().push((sent, total)))
        .await
        .unwrap();

    // Streamed in chunks: many progress reports, none over 64 KiB, ending at the total.
    let progress = progress.lock().unwrap().clone();
    assert!(
        progress.len() >= 3 * MIB / (64 * 1024),
        "{}",
        progress.len()
    );
    assert_eq!(
        *progress.last().unwrap(),
        (content.len() as u64, content.len() as u64)
    );
    let mut previous = 0;
    for (sent, _) in &progress {
        assert!(*sent > previous && sent - previous <= 64 * 1024);
        previous = *sent;
    }

    assert_eq!(file.name.as_deref(), Some("large.bin"));
    assert_eq!(file.size, Some(content.len() as u64));

    let mut stream = client
        .files()
        .download(download_url(&file))
        .stream()
        .await
        .unwrap();
    assert_eq!(stream.content_length(), Some(content.len() as u64));
    assert_eq!(stream.file_name(), Some("large.bin"));
    let mut received = Vec::new();
    let mut chunks = 0;
    while let Some(chunk) = stream.next().await {
        received.extend_from_slice(&chunk.unwrap());
        chunks += 1;
    }
    assert_eq!(received, content);
    assert!(chunks > 1, "the body arrived as a stream of chunks");

    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("copy.bin");
    let written = client
        .files()
        .download(download_url(&file))
        .to_path(&target)
        .await
        .unwrap();
    assert_eq!(written, content.len() as u64);
    assert_eq!(std::fs::read(&target).unwrap(), content);
    assert!(!dir.path().join("copy.bin.part").exists());
}

/// Uploads `len` bytes from a reader and reports how many upload calls the portal had seen
/// when the reader was first read: 0 means the content was read before any call (inline),
/// 1 means after step one (two-step).
async fn calls_before_first_read(
    portal: &Arc<SandboxPortal>,
    client: &Client,
    folder: u64,
    len: usize,
    threshold: Option<u64>,
) -> usize {
    let baseline = upload_calls(portal);
    let seen = Arc::new(AtomicUsize::new(usize::MAX));
    let content = pattern(len);
    let mut probe = Probe::new(io::Cursor::new(content.clone()));
    let (watch, record) = (portal.clone(), seen.clone());
    probe.on_first_read = Some(Box::new(move || {
        record.store(upload_calls(&watch) - baseline, Ordering::SeqCst);
    }));
    let mut files = client.files();
    if let Some(threshold) = threshold {
        files = files.inline_threshold(threshold);
    }
    let file = files
        .upload_to_folder(
            folder,
            UploadSource::from_reader(format!("probe-{len}.bin"), len as u64, probe),
        )
        .generate_unique_name(true)
        .await
        .unwrap();
    assert_eq!(
        upload_calls(portal) - baseline,
        1,
        "one upload call either way"
    );
    assert_eq!(portal.disk_file(file.id.get()).unwrap().1, content);
    seen.load(Ordering::SeqCst)
}

#[tokio::test]
async fn the_size_threshold_picks_the_path() {
    let portal = start().await;
    let client = client(&portal);
    let folder = root_folder(&client).await;

    // The default threshold, 1 MiB: up to and including it inline, above it two steps.
    assert_eq!(
        calls_before_first_read(&portal, &client, folder, MIB, None).await,
        0
    );
    assert_eq!(
        calls_before_first_read(&portal, &client, folder, MIB + 1, None).await,
        1
    );
    // A configured threshold.
    assert_eq!(
        calls_before_first_read(&portal, &client, folder, 100, Some(100)).await,
        0
    );
    assert_eq!(
        calls_before_first_read(&portal, &client, folder, 101, Some(100)).await,
        1
    );
    assert_eq!(
        calls_before_first_read(&portal, &client, folder, 5, Some(0)).await,
        1
    );
}

#[tokio::test]
async fn storage_roots_take_uploads_both_ways() {
    let portal = start().await;
    let client = client(&portal);
    let storages = call(
        &client,
        "disk.storage.getList",
        json!({ "filter": { "ENTITY_TYPE": "user", "ENTITY_ID": 1 } }),
    )
    .await;
    let storage = number(&storages[0]["ID"]);
    let root = number(&storages[0]["ROOT_OBJECT_ID"]);
    let files = client.files().inline_threshold(1024);

    for (name, len) in [("inline.txt", 1000), ("streamed.bin", 5000)] {
        let content = pattern(len);
        let file = files
            .upload_to_storage(storage, UploadSource::from_bytes(name, content.clone()))
            .await
            .unwrap();
        assert_eq!(
            file.parent_id.map(bitrix24::types::Id::get),
            Some(root),
            "{name}"
        );
        assert_eq!(
            portal.disk_file(file.id.get()).unwrap(),
            (name.to_owned(), content)
        );
    }
}

#[tokio::test]
async fn uploads_from_a_path_take_the_file_name() {
    let portal = start().await;
    let client = client(&portal);
    let folder = root_folder(&client).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("отчёт 2024.csv");
    std::fs::write(&path, "a;b\n1;2\n").unwrap();

    for threshold in [MIB as u64, 0] {
        let file = client
            .files()
            .inline_threshold(threshold)
            .upload_to_folder(folder, UploadSource::from_path(&path))
            .generate_unique_name(true)
            .await
            .unwrap();
        let (name, bytes) = portal.disk_file(file.id.get()).unwrap();
        assert!(name.starts_with("отчёт 2024"), "{name}");
        assert_eq!(bytes, b"a;b\n1;2\n");
    }
}

#[tokio::test]
async fn upload_errors_name_the_problem_and_never_the_link() {
    let portal = start().await;
    let client = client(&portal);
    let folder = root_folder(&client).await;

    let missing = client
        .files()
        .upload_to_folder(424_242, UploadSource::from_bytes("a.txt", "x"))
        .await
        .unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
    assert_eq!(missing.method(), Some("disk.folder.uploadFile"));

    let first = client
        .files()
        .upload_to_folder(folder, UploadSource::from_bytes("same.txt", "one"))
        .await;
    assert!(first.is_ok());
    let clash = client
        .files()
        .upload_to_folder(folder, UploadSource::from_bytes("same.txt", "two"))
        .await
        .unwrap_err();
    assert_eq!(clash.kind(), ErrorKind::Api, "{clash}");

    // A reader that ends early, on the streamed path: the upload fails as bad input, and the
    // portal stores nothing.
    let short = client
        .files()
        .inline_threshold(0)
        .upload_to_folder(
            folder,
            UploadSource::from_reader("short.bin", 10_000, io::Cursor::new(vec![1u8; 4000])),
        )
        .await
        .unwrap_err();
    assert_eq!(short.kind(), ErrorKind::InvalidInput, "{short}");
    assert!(short.to_string().contains("4000 of its 10000"), "{short}");
    for text in [short.to_string(), format!("{short:?}")] {
        assert!(!text.contains("upload.json"), "{text}");
        assert!(!text.contains("token"), "{text}");
    }
    let children = call(&client, "disk.folder.getChildren", json!({ "id": folder })).await;
    assert!(
        children
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["NAME"] != "short.bin")
    );
}

#[tokio::test]
async fn download_errors_carry_the_portal_code_and_not_the_link() {
    let portal = start().await;
    let client = client(&portal);
    let folder = root_folder(&client).await;
    let file = client
        .files()
        .upload_to_folder(folder, UploadSource::from_bytes("gone.txt", "bye"))
        .await
        .unwrap();
    let url = download_url(&file).to_owned();
    call(&client, "disk.file.delete", json!({ "id": file.id })).await;

    let error = client.files().download(&url).await.unwrap_err();
    assert!(error.is_not_found(), "{error}");
    assert_eq!(error.http_status(), Some(404));
    let token = url.split("token=").nth(1).unwrap();
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains("download.json"), "{text}");
        assert!(!text.contains(token), "{text}");
    }

    let refused = client
        .files()
        .download("http://files.example.com/rest/download.json?token=abc")
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::InvalidInput);
    assert!(!refused.to_string().contains("abc"));
}

#[tokio::test]
async fn files_attach_to_tasks_and_task_comments() {
    let portal = start().await;
    let client = client(&portal);
    let folder = root_folder(&client).await;
    let files = client.files();
    let mut ids = Vec::new();
    for name in ["spec.txt", "photo.txt", "notes.txt"] {
        let file = files
            .upload_to_folder(folder, UploadSource::from_bytes(name, name))
            .await
            .unwrap();
        ids.push(file.id.get());
    }
    let task = call(
        &client,
        "tasks.task.add",
        json!({ "fields": { "TITLE": "Review", "RESPONSIBLE_ID": 1 } }),
    )
    .await;
    let task_id = number(&task["task"]["id"]);

    let attachment = files.attach_to_task(task_id, ids[0]).await.unwrap();
    let disk_files = |portal: &SandboxPortal| {
        let task = portal.task(task_id).unwrap();
        let mut files: Vec<u64> = task["diskFiles"]
            .as_array()
            .unwrap()
            .iter()
            .map(number)
            .collect();
        files.sort_unstable();
        files
    };
    assert_eq!(disk_files(&portal), vec![ids[0]]);

    // Update: keep the attachment by its number, add a Disk file by "n…".
    files
        .set_task_files(
            task_id,
            [TaskFile::keep(attachment.get()), TaskFile::attach(ids[1])],
        )
        .await
        .unwrap();
    assert_eq!(disk_files(&portal), vec![ids[0], ids[1]]);
    // Leaving an attachment out unlinks it; the file stays on Disk.
    files
        .set_task_files(task_id, [TaskFile::attach(ids[2])])
        .await
        .unwrap();
    assert_eq!(disk_files(&portal), vec![ids[2]]);
    assert!(portal.disk_file(ids[0]).is_some());

    let comment = files
        .comment_task(
            task_id,
            "See the attached notes",
            [DiskAttachment::new(ids[1]), DiskAttachment::new(ids[2])],
        )
        .await
        .unwrap();
    let comments = portal.task_comments(task_id);
    let posted = comments
        .iter()
        .find(|c| number(&c["ID"]) == comment.get())
        .unwrap();
    assert_eq!(posted["POST_MESSAGE"], "See the attached notes");
    let mut attached: Vec<u64> = posted["ATTACHED_OBJECTS"]
        .as_object()
        .unwrap()
        .values()
        .map(|a| number(&a["FILE_ID"]))
        .collect();
    attached.sort_unstable();
    assert_eq!(attached, vec![ids[1], ids[2]]);
    // The comment's links download the attached files.
    for summary in posted["ATTACHED_OBJECTS"].as_object().unwrap().values() {
        let name = summary["NAME"].as_str().unwrap();
        let bytes = files
            .download(summary["DOWNLOAD_URL"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(&bytes[..], name.as_bytes());
    }

    let unknown = files.attach_to_task(task_id, 987_654).await.unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::Api, "{unknown}");
}

#[tokio::test]
async fn timeline_comments_carry_inline_files() {
    let portal = start().await;
    let client = client(&portal);
    let deal = number(
        &call(
            &client,
            "crm.deal.add",
            json!({ "fields": { "TITLE": "Deal" } }),
        )
        .await,
    );
    let contract = pattern(2000);

    let comment = client
        .files()
        .add_timeline_comment(
            "deal",
            deal,
            "Contract and notes",
            [
                FileContent::from_bytes("contract.bin", &contract),
                FileContent::from_bytes("notes.txt", "hello"),
            ],
        )
        .await
        .unwrap();

    let stored = call(
        &client,
        "crm.timeline.comment.get",
        json!({ "id": comment }),
    )
    .await;
    assert_eq!(stored["COMMENT"], "Contract and notes");
    let mut files: Vec<(String, Vec<u8>)> = stored["FILES"]
        .as_object()
        .unwrap()
        .keys()
        .map(|id| portal.crm_file(id.parse().unwrap()).unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        vec![
            ("contract.bin".to_owned(), contract),
            ("notes.txt".to_owned(), b"hello".to_vec()),
        ]
    );
}

#[tokio::test]
async fn crm_file_fields_take_both_inline_shapes() {
    let portal = start().await;
    let client = client(&portal);

    // Old methods: {"fileData": [name, base64]}.
    let contact = number(
        &call(
            &client,
            "crm.contact.add",
            json!({ "fields": { "NAME": "Ann", "PHOTO": FileData::new("ann.txt", "portrait") } }),
        )
        .await,
    );
    let stored = call(&client, "crm.contact.get", json!({ "id": contact })).await;
    let photo = number(&stored["PHOTO"]["id"]);
    assert_eq!(
        portal.crm_file(photo).unwrap(),
        ("ann.txt".to_owned(), b"portrait".to_vec())
    );

    // crm.item.*: [name, base64].
    let item = call(
        &client,
        "crm.item.add",
        json!({ "entityTypeId": 4, "fields": { "title": "Acme", "logo": FileContent::from_bytes("logo.txt", "ACME") } }),
    )
    .await;
    let logo = number(&item["item"]["logo"]["id"]);
    assert_eq!(
        portal.crm_file(logo).unwrap(),
        ("logo.txt".to_owned(), b"ACME".to_vec())
    );
}

/// 50 MiB through the two-step path without holding it in memory: the test's reader is
/// never more than a chunk or two ahead of what the HTTP client has taken, and it is never
/// offered a buffer larger than the 64 KiB chunk (reading the whole file first would offer
/// ever larger buffers and run 50 MiB ahead).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_mebibytes_stream_from_a_path_without_buffering() {
    const LEN: usize = 50 * MIB;
    let portal = start().await;
    let client = client(&portal);
    let folder = root_folder(&client).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let content = pattern(LEN);
    std::fs::write(&path, &content).unwrap();

    // From the path itself: progress in chunks of at most 64 KiB.
    let reports = Arc::new(Mutex::new((0u64, 0u64, 0usize)));
    let log = reports.clone();
    let file = client
        .files()
        .upload_to_folder(folder, UploadSource::from_path(&path))
        .on_progress(move |sent, _| {
            let mut log = log.lock().unwrap();
            log.1 = log.1.max(sent - log.0);
            log.0 = sent;
            log.2 += 1;
        })
        .await
        .unwrap();
    let (last, largest_step, count) = *reports.lock().unwrap();
    assert_eq!(last, LEN as u64);
    assert!(largest_step <= 64 * 1024, "{largest_step}");
    assert!(count >= LEN / (64 * 1024), "{count}");
    let (name, stored) = portal.disk_file(file.id.get()).unwrap();
    assert_eq!(name, "big.bin");
    assert!(stored == content, "the stored file differs");
    drop(stored);

    // The same file through a counting reader: how far reading runs ahead of sending.
    let probe = Probe::new(tokio::fs::File::open(&path).await.unwrap());
    let (read, largest_buffer) = (probe.read.clone(), probe.largest_buffer.clone());
    let lead = Arc::new(AtomicU64::new(0));
    let (reader_total, max_lead) = (read.clone(), lead.clone());
    client
        .files()
        .upload_to_folder(
            folder,
            UploadSource::from_reader("big-again.bin", LEN as u64, probe),
        )
        .on_progress(move |sent, _| {
            let ahead = reader_total.load(Ordering::SeqCst).saturating_sub(sent);
            max_lead.fetch_max(ahead, Ordering::SeqCst);
        })
        .await
        .unwrap();
    assert_eq!(read.load(Ordering::SeqCst), LEN as u64);
    let lead = lead.load(Ordering::SeqCst);
    assert!(
        lead <= MIB as u64,
        "the reader ran {lead} bytes ahead of the upload"
    );
    let largest_buffer = largest_buffer.load(Ordering::SeqCst);
    assert!(
        largest_buffer <= 64 * 1024,
        "offered a {largest_buffer}-byte buffer"
    );
}

// ---------------------------------------------------------------------------------------------
// The wire shape, against a recording HTTP server: the sandbox accepts more than a portal
// would (it ignores download headers), so these pin down what is actually sent.
// ---------------------------------------------------------------------------------------------

mod wire {
    use super::*;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn mock_client(server: &MockServer) -> Client {
        Client::builder()
            .webhook(format!("{}/rest/1/secret/", server.uri()))
            .limits(Limits::unlimited())
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn downloads_send_browser_headers_and_follow_redirects_by_hand() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/rest/download.json"))
            .respond_with(ResponseTemplate::new(302).insert_header("Location", "/files/real.bin"))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/files/real.bin"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("Content-Disposition", "attachment; filename=\"real.bin\"")
                    .set_body_bytes(b"payload".to_vec()),
            )
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/loop"))
            .respond_with(ResponseTemplate::new(302).insert_header("Location", "/loop"))
            .mount(&server)
            .await;
        let client = mock_client(&server);

        let link = format!(
            "{}/rest/download.json?auth=SECRET&token=disk|abc",
            server.uri()
        );
        let bytes = client.files().download(&link).await.unwrap();
        assert_eq!(&bytes[..], b"payload");

        let requests = server.received_requests().await.unwrap();
        assert_eq!(requests.len(), 2, "the redirect was followed once");
        for request in &requests {
            let header = |name: &str| {
                let value = request.headers.get(name);
                let value = value.unwrap_or_else(|| panic!("no {name} header"));
                value.to_str().unwrap().to_owned()
            };
            assert!(header("user-agent").starts_with("bitrix24-rs/"));
            assert_eq!(header("accept"), "*/*");
            assert!(!header("accept-language").is_empty());
            assert_eq!(header("referer"), format!("{}/", server.uri()));
        }

        let looping = client
            .files()
            .download(&format!("{}/loop?token=SECRET", server.uri()))
            .await
            .unwrap_err();
        assert!(
            looping.to_string().contains("redirected too many times"),
            "{looping}"
        );
        assert!(!format!("{looping:?}").contains("SECRET"));
    }

    #[tokio::test]
    async fn two_step_uploads_post_one_raw_part_with_a_length() {
        let server = MockServer::start().await;
        let upload_url = format!(
            "{}/rest/upload.json?auth=SECRET&token=disk%7Cticket",
            server.uri()
        );
        Mock::given(method("POST"))
            .and(path("/rest/1/secret/disk.folder.uploadFile"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({ "result": { "field": "customField", "uploadUrl": upload_url } }),
            ))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/rest/upload.json"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({ "result": { "ID": 77, "NAME": "x.bin" } })),
            )
            .mount(&server)
            .await;
        let client = mock_client(&server);
        let content = pattern(3000);

        let file = client
            .files()
            .inline_threshold(0)
            .upload_to_folder(5, UploadSource::from_bytes("x.bin", content.clone()))
            .await
            .unwrap();
        assert_eq!(file.id.get(), 77);

        let requests = server.received_requests().await.unwrap();
        assert_eq!(requests.len(), 2);
        let step_one: Value = serde_json::from_slice(&requests[0].body).unwrap();
        assert_eq!(step_one, json!({ "id": 5, "data": { "NAME": "x.bin" } }));

        let post = &requests[1];
        let header = |name: &str| post.headers.get(name).unwrap().to_str().unwrap().to_owned();
        assert!(header("content-type").starts_with("multipart/form-data; boundary="));
        assert_eq!(header("content-length"), post.body.len().to_string());
        let body = &post.body;
        let find = |needle: &[u8]| body.windows(needle.len()).position(|w| w == needle);
        assert!(find(b"name=\"customField\"; filename=\"x.bin\"").is_some());
        assert!(
            find(&content).is_some(),
            "the content is sent raw, not base64"
        );
        assert_eq!(
            body.windows(20)
                .filter(|w| w == b"Content-Disposition:")
                .count(),
            1,
            "one part"
        );
    }

    #[tokio::test]
    async fn upload_endpoint_errors_keep_the_code_and_hide_the_link() {
        let server = MockServer::start().await;
        let upload_url = format!("{}/rest/upload.json?auth=SECRET&token=TICKET", server.uri());
        Mock::given(method("POST"))
            .and(path("/rest/1/secret/disk.folder.uploadFile"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(
                    json!({ "result": { "field": "file", "uploadUrl": upload_url } }),
                ),
            )
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/rest/upload.json"))
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "error": "ERROR_COULD_NOT_SAVE_FILE",
                "error_description": "Could not save file",
            })))
            .mount(&server)
            .await;
        let client = mock_client(&server);

        let error = client
            .files()
            .inline_threshold(0)
            .upload_to_folder(5, UploadSource::from_bytes("x.bin", "content"))
            .await
            .unwrap_err();
        assert_eq!(error.code().unwrap().as_str(), "ERROR_COULD_NOT_SAVE_FILE");
        assert_eq!(error.method(), Some("disk.folder.uploadFile"));
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(
                !text.contains("SECRET") && !text.contains("TICKET"),
                "{text}"
            );
        }
    }
}
