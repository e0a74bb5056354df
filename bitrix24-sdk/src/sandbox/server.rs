//! The HTTP side: routes, parsing, auth, limits, faults, the envelope.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, FromRequest, Request, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::serve::{IncomingStream, Listener};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use url::Url;

use super::clock::{Clock, iso8601};
use super::faults::{FaultKind, Faults};
use super::limits::{Bucket, CostModel, Operating, OperatingReport};
use super::params::{Params, normalize, parse_query};
use super::registry::{Caller, CallerKind, Ctx, Emitted, Registry};
use super::reply::{Fail, Reply};
use super::state::State;
use super::{AuthKind, Delivery, RequestRecord};
use super::{batch, delivery, disk, oauth};

/// The largest request body accepted (the cloud accepts up to 2 GB; a sandbox needs less).
const MAX_BODY: usize = 512 * 1024 * 1024;

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Settings fixed when the sandbox starts.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) webhook_user: u64,
    pub(crate) webhook_secret: String,
    pub(crate) latency: Duration,
    pub(crate) member_id: String,
    pub(crate) app: oauth::AppConfig,
}

/// Everything the server shares between requests.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    pub(crate) registry: Registry,
    pub(crate) bucket: Mutex<Bucket>,
    pub(crate) operating: Mutex<Operating>,
    pub(crate) cost: CostModel,
    pub(crate) faults: Mutex<Faults>,
    pub(crate) log: Mutex<Vec<RequestRecord>>,
    pub(crate) deliveries: Mutex<Vec<Delivery>>,
    pub(crate) tokens: Mutex<oauth::Tokens>,
    pub(crate) config: Config,
    pub(crate) clock: Clock,
    pub(crate) base_url: Url,
    pub(crate) http: reqwest::Client,
}

impl Shared {
    /// Runs a closure on the locked state (for inspection and seeding).
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut lock(&self.state))
    }
}

/// A connection the server can cut, to emulate a reset.
pub(crate) struct KillableStream {
    inner: TcpStream,
    killed: Arc<AtomicBool>,
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A TCP listener whose connections can be cut.
pub(crate) struct KillableListener(pub(crate) TcpListener);

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (
                        KillableStream {
                            inner: stream,
                            killed: Arc::default(),
                        },
                        addr,
                    );
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// The per-connection handle a request uses to cut its own connection.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionKill(Arc<AtomicBool>);

impl Connected<IncomingStream<'_, KillableListener>> for ConnectionKill {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        Self(stream.io().killed.clone())
    }
}

impl ConnectionKill {
    fn kill(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/rest/{*path}", any(rest))
        .route("/oauth/token/", any(oauth::token))
        .route("/oauth/token", any(oauth::token))
        .route("/oauth/authorize/", any(oauth::authorize))
        .route("/oauth/authorize", any(oauth::authorize))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
        // axum caps bodies at 2 MB by default; uploads may be far larger.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// The `time` object of a reply.
fn time_object(
    clock: &Clock,
    started: f64,
    processing: f64,
    operating: Option<OperatingReport>,
) -> Value {
    let finish = clock.unix().max(started + processing);
    #[allow(clippy::cast_possible_truncation)]
    let mut time = json!({
        "start": started,
        "finish": finish,
        "duration": finish - started,
        "processing": processing,
        "date_start": iso8601(started.floor() as i64),
        "date_finish": iso8601(finish.floor() as i64),
    });
    if let (Some(report), Value::Object(map)) = (operating, &mut time) {
        map.insert("operating_reset_at".into(), json!(report.reset_at));
        map.insert("operating".into(), json!(report.operating));
    }
    time
}

pub(crate) fn error_response(fail: &Fail) -> Response {
    let status = StatusCode::from_u16(fail.status).unwrap_or(StatusCode::BAD_REQUEST);
    json_response(
        status,
        &json!({ "error": fail.code, "error_description": fail.description }),
    )
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// Reads the parameters of a request: query string, then a JSON or form body over it.
fn read_params(
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Map<String, Value>, Fail> {
    let mut params = query.map(parse_query).unwrap_or_default();
    if body.is_empty() {
        return Ok(params);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let from_body = if content_type.starts_with("application/json") || body.first() == Some(&b'{') {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => map,
            Ok(Value::Array(items)) if items.is_empty() => Map::new(),
            _ => {
                return Err(Fail::bad_request(
                    "INVALID_REQUEST",
                    "Invalid JSON in the request body",
                ));
            }
        }
    } else {
        parse_query(&String::from_utf8_lossy(body))
    };
    for (key, value) in from_body {
        params.insert(key, normalize(value));
    }
    Ok(params)
}

/// `/rest/{user}/{secret}/{method}` or `/rest/{method}`; `.json` stripped.
fn split_path(path: &str) -> (Vec<&str>, String) {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let method = segments
        .last()
        .map(|m| m.strip_suffix(".json").unwrap_or(m).to_owned())
        .unwrap_or_default();
    (segments, method)
}

async fn rest(
    AxumState(shared): AxumState<Arc<Shared>>,
    ConnectInfo(kill): ConnectInfo<ConnectionKill>,
    request: Request,
) -> Response {
    let path = request.uri().path().trim_start_matches("/rest/").to_owned();
    let query = request.uri().query().map(str::to_owned);
    let (segments, method) = split_path(&path);

    // Files are served and received outside the JSON API, as on the portal.
    if segments.len() == 1 && method.eq_ignore_ascii_case("download") {
        return disk::download(&shared, query.as_deref().unwrap_or_default());
    }
    if segments.len() == 1 && method.eq_ignore_ascii_case("upload") {
        let Ok(multipart) = axum::extract::Multipart::from_request(request, &()).await else {
            return error_response(&Fail::bad_request(
                "ERROR_ARGUMENT",
                "multipart/form-data expected",
            ));
        };
        return disk::upload(&shared, query.as_deref().unwrap_or_default(), multipart).await;
    }

    let headers = request.headers().clone();
    let Ok(body) = axum::body::to_bytes(request.into_body(), MAX_BODY).await else {
        return error_response(&Fail::bad_request(
            "INVALID_REQUEST",
            "request body too large",
        ));
    };
    handle(
        &shared,
        &kill,
        &segments,
        &method,
        query.as_deref(),
        &headers,
        &body,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    shared: &Arc<Shared>,
    kill: &ConnectionKill,
    segments: &[&str],
    method: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let started = shared.clock.unix();
    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    let faults = lock(&shared.faults).draw(method);
    for fault in &faults {
        if let FaultKind::Latency(delay) = fault {
            tokio::time::sleep(*delay).await;
        }
    }

    let mut record = RequestRecord {
        method: method.to_owned(),
        auth: AuthKind::None,
        status: 200,
        error: None,
        commands: 0,
    };
    let response = respond(
        shared,
        kill,
        segments,
        method,
        query,
        headers,
        body,
        &faults,
        started,
        &mut record,
    )
    .await;
    record.status = response.status().as_u16();
    lock(&shared.log).push(record);
    response
}

#[allow(clippy::too_many_arguments)]
async fn respond(
    shared: &Arc<Shared>,
    kill: &ConnectionKill,
    segments: &[&str],
    method: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
    faults: &[FaultKind],
    started: f64,
    record: &mut RequestRecord,
) -> Response {
    let fail = |record: &mut RequestRecord, fail: Fail| {
        record.error = Some(fail.code.clone());
        error_response(&fail)
    };
    if !lock(&shared.bucket).admit(Instant::now()) {
        return fail(
            record,
            Fail::new(503, "QUERY_LIMIT_EXCEEDED", "Too many requests"),
        );
    }
    let mut params = match read_params(query, headers, body) {
        Ok(params) => params,
        Err(error) => return fail(record, error),
    };
    let caller = match authenticate(shared, segments, &mut params) {
        Ok(caller) => caller,
        Err(error) => return fail(record, error),
    };
    record.auth = match caller.kind {
        CallerKind::Webhook => AuthKind::Webhook,
        CallerKind::App { .. } => AuthKind::OAuth,
    };
    for fault in faults {
        match fault {
            FaultKind::Error(status) => return fail(record, injected_error(*status)),
            FaultKind::Drop => {
                kill.kill();
                return fail(
                    record,
                    Fail::new(
                        500,
                        "CONNECTION_DROPPED",
                        "the sandbox dropped the connection",
                    ),
                );
            }
            _ => {}
        }
    }

    let params = Params::new(params);
    let (outcome, emitted) = if method.eq_ignore_ascii_case("batch") {
        let (outcome, commands, emitted) = batch::run(shared, &caller, &params);
        record.commands = commands;
        (
            outcome.map(|result| (Reply::new(result), 0.0, None)),
            emitted,
        )
    } else {
        call(shared, &caller, method, &params, true)
    };

    if !emitted.is_empty() {
        delivery::spawn(shared.clone(), caller.clone(), emitted);
    }
    for fault in faults {
        match fault {
            FaultKind::CommitThenError(status) => return fail(record, injected_error(*status)),
            FaultKind::CommitThenDrop => {
                kill.kill();
                return fail(
                    record,
                    Fail::new(
                        500,
                        "CONNECTION_DROPPED",
                        "the sandbox dropped the connection",
                    ),
                );
            }
            FaultKind::Hang(delay) => tokio::time::sleep(*delay).await,
            _ => {}
        }
    }
    match outcome {
        Ok((reply, processing, operating)) => {
            let mut body = Map::new();
            body.insert("result".into(), reply.result);
            if let Some(total) = reply.total {
                body.insert("total".into(), json!(total));
            }
            if let Some(next) = reply.next {
                body.insert("next".into(), json!(next));
            }
            body.insert(
                "time".into(),
                time_object(&shared.clock, started, processing, operating),
            );
            json_response(StatusCode::OK, &Value::Object(body))
        }
        Err(error) => fail(record, error),
    }
}

fn injected_error(status: u16) -> Fail {
    match status {
        503 => Fail::new(503, "QUERY_LIMIT_EXCEEDED", "Too many requests"),
        500 => Fail::new(500, "INTERNAL_SERVER_ERROR", "Internal server error"),
        other => Fail::new(other, "", format!("injected HTTP {other}")),
    }
}

/// A successful call: the reply, the seconds it took, and the operating report.
pub(crate) type CallResult = Result<(Reply, f64, Option<OperatingReport>), Fail>;

/// Runs one method (on its own or inside a batch) with the operating budget around it.
pub(crate) fn call(
    shared: &Shared,
    caller: &Caller,
    method: &str,
    params: &Params,
    top_level: bool,
) -> (CallResult, Vec<Emitted>) {
    let Some(spec) = shared.registry.get(method) else {
        return (Err(Fail::method_not_found()), Vec::new());
    };
    if spec.app_only && !caller.is_app() {
        return (Err(Fail::wrong_auth_type()), Vec::new());
    }
    if !top_level && !spec.batchable {
        return (
            Err(Fail::new(
                405,
                "ERROR_BATCH_METHOD_NOT_ALLOWED",
                "Method is not allowed for batch usage",
            )),
            Vec::new(),
        );
    }
    let now = Instant::now();
    if !lock(&shared.operating).check(&caller.key, spec.name, now) {
        return (
            Err(Fail::new(
                429,
                "OPERATION_TIME_LIMIT",
                "Method is blocked due to operation time limit.",
            )),
            Vec::new(),
        );
    }
    let (outcome, emitted) = {
        let mut state = lock(&shared.state);
        let mut ctx = Ctx {
            state: &mut state,
            params,
            caller,
            clock: shared.clock,
            base_url: &shared.base_url,
            emitted: Vec::new(),
        };
        let outcome = (spec.handler)(&mut ctx);
        (outcome, ctx.emitted)
    };
    let work = outcome.as_ref().map(|reply| reply.work).unwrap_or_default();
    let processing = shared.cost.cost(work);
    let report = lock(&shared.operating).charge(
        &caller.key,
        spec.name,
        processing,
        now,
        shared.clock.unix_secs(),
    );
    (
        outcome.map(|reply| (reply, processing, Some(report))),
        emitted,
    )
}

/// Who the request is from: the webhook in the path, or the OAuth token in `auth`.
fn authenticate(
    shared: &Shared,
    segments: &[&str],
    params: &mut Map<String, Value>,
) -> Result<Caller, Fail> {
    let no_auth = || Fail::new(401, "NO_AUTH_FOUND", "Wrong authorization data");
    match segments {
        [user, secret, _method] => {
            let user: u64 = user.parse().map_err(|_| no_auth())?;
            if user != shared.config.webhook_user || *secret != shared.config.webhook_secret {
                return Err(no_auth());
            }
            params.remove("auth");
            Ok(Caller {
                key: format!("webhook:{user}"),
                user_id: user,
                kind: CallerKind::Webhook,
            })
        }
        [_method] => {
            let token = params
                .remove("auth")
                .and_then(|v| v.as_str().map(str::to_owned))
                .ok_or_else(no_auth)?;
            let grant = lock(&shared.tokens).check_access(&token, Instant::now())?;
            Ok(Caller {
                key: format!("app:{}", grant.client_id),
                user_id: grant.user_id,
                kind: CallerKind::App {
                    client_id: grant.client_id,
                },
            })
        }
        _ => Err(no_auth()),
    }
}

/// Builds a form body from a JSON tree with PHP-style keys (for event deliveries).
pub(crate) fn flatten_form(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let name = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}[{key}]")
                };
                flatten_form(&name, inner, out);
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                flatten_form(&format!("{prefix}[{index}]"), inner, out);
            }
        }
        Value::Null => out.push((prefix.to_owned(), String::new())),
        Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

/// Request counts per method, for inspection.
pub(crate) fn counts(log: &[RequestRecord]) -> HashMap<String, u64> {
    let mut counts = HashMap::new();
    for record in log {
        *counts.entry(record.method.clone()).or_default() += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_from_query_json_and_form_agree() {
        let mut headers = HeaderMap::new();
        let from_query = read_params(
            Some("fields[TITLE]=x&fields[PHONE][0][VALUE]=1"),
            &headers,
            b"",
        )
        .unwrap();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let from_form = read_params(
            None,
            &headers,
            b"fields%5BTITLE%5D=x&fields%5BPHONE%5D%5B0%5D%5BVALUE%5D=1",
        )
        .unwrap();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let from_json = read_params(
            None,
            &headers,
            br#"{"fields":{"TITLE":"x","PHONE":[{"VALUE":"1"}]}}"#,
        )
        .unwrap();
        assert_eq!(from_query, from_form);
        assert_eq!(from_form, from_json);
        assert!(read_params(None, &headers, b"{not json").is_err());
    }

    #[test]
    fn paths() {
        assert_eq!(
            split_path("1/abc/crm.lead.add.json"),
            (
                vec!["1", "abc", "crm.lead.add.json"],
                "crm.lead.add".to_owned()
            )
        );
        assert_eq!(split_path("profile").1, "profile");
    }

    #[test]
    fn forms_flatten_with_php_keys() {
        let mut out = Vec::new();
        flatten_form(
            "",
            &json!({ "event": "ONCRMLEADADD", "data": { "FIELDS": { "ID": 5 } }, "auth": { "a": null }, "l": [1] }),
            &mut out,
        );
        assert!(out.contains(&("data[FIELDS][ID]".into(), "5".into())));
        assert!(out.contains(&("auth[a]".into(), String::new())));
        assert!(out.contains(&("l[0]".into(), "1".into())));
    }
}
