//! The table of methods the sandbox knows, and the context a method handler runs in.

use std::collections::HashMap;

use serde_json::Value;
use url::Url;

use super::clock::Clock;
use super::params::Params;
use super::reply::Outcome;
use super::state::State;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    /// The identity the operating budget is kept for: `webhook:<user>` or `app:<client_id>`.
    pub(crate) key: String,
    /// The Bitrix user the call runs as.
    pub(crate) user_id: u64,
    pub(crate) kind: CallerKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CallerKind {
    Webhook,
    App { client_id: String },
}

impl Caller {
    pub(crate) fn is_app(&self) -> bool {
        matches!(self.kind, CallerKind::App { .. })
    }
}

/// An event a handler raised; the server delivers it to bound handlers after the call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Emitted {
    pub(crate) name: String,
    pub(crate) data: Value,
}

/// What a handler sees: the portal's state (locked for the call), the parameters, the caller.
pub(crate) struct Ctx<'a> {
    pub(crate) state: &'a mut State,
    pub(crate) params: &'a Params,
    pub(crate) caller: &'a Caller,
    pub(crate) clock: Clock,
    /// The sandbox's own address, for URLs it hands out (downloads, uploads).
    pub(crate) base_url: &'a Url,
    pub(crate) emitted: Vec<Emitted>,
}

impl Ctx<'_> {
    /// Raises `event` (e.g. `ONCRMLEADADD`) with its `data`.
    pub(crate) fn emit(&mut self, event: &str, data: Value) {
        self.emitted.push(Emitted {
            name: event.to_owned(),
            data,
        });
    }

    /// Now, as the portal writes dates.
    pub(crate) fn now_iso(&self) -> String {
        self.clock.iso()
    }

    /// Now, in whole unix seconds.
    pub(crate) fn now_unix(&self) -> i64 {
        self.clock.unix_secs()
    }
}

/// A method handler.
pub(crate) type Handler = fn(&mut Ctx<'_>) -> Outcome;

#[derive(Debug, Clone, Copy)]
pub(crate) struct MethodSpec {
    pub(crate) name: &'static str,
    pub(crate) handler: Handler,
    /// Refused for webhooks with 403 `WRONG_AUTH_TYPE`.
    pub(crate) app_only: bool,
    /// Refused inside `batch` (file upload and download methods).
    pub(crate) batchable: bool,
}

/// Methods by lower-cased name: the portal matches method names without regard to case
/// (the docs spell `disk.folder.uploadfile` and `disk.folder.uploadFile`).
#[derive(Debug, Default)]
pub(crate) struct Registry {
    methods: HashMap<String, MethodSpec>,
}

impl Registry {
    /// Adds a method callable with a webhook or an app.
    pub(crate) fn method(&mut self, name: &'static str, handler: Handler) {
        self.insert(MethodSpec {
            name,
            handler,
            app_only: false,
            batchable: true,
        });
    }

    /// Adds a method that needs an application context.
    pub(crate) fn app_only(&mut self, name: &'static str, handler: Handler) {
        self.insert(MethodSpec {
            name,
            handler,
            app_only: true,
            batchable: true,
        });
    }

    /// Adds a method that may not run inside `batch`.
    pub(crate) fn unbatchable(&mut self, name: &'static str, handler: Handler) {
        self.insert(MethodSpec {
            name,
            handler,
            app_only: false,
            batchable: false,
        });
    }

    fn insert(&mut self, spec: MethodSpec) {
        self.methods.insert(spec.name.to_ascii_lowercase(), spec);
    }

    pub(crate) fn get(&self, name: &str) -> Option<&MethodSpec> {
        self.methods.get(&name.to_ascii_lowercase())
    }

    /// Every method's name, sorted.
    pub(crate) fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.methods.values().map(|spec| spec.name).collect();
        names.sort_unstable();
        names
    }
}
