//! Helpers for the sandbox's unit tests: callers and a way to run one handler.

use serde_json::Value;
use url::Url;

use crate::sandbox::clock::Clock;
use crate::sandbox::params::Params;
use crate::sandbox::registry::{Caller, CallerKind, Ctx, Emitted};
use crate::sandbox::reply::{Fail, Outcome};
use crate::sandbox::state::State;

/// The app, acting as `user_id`.
pub(crate) fn app(user_id: u64) -> Caller {
    Caller {
        key: "app:x".into(),
        user_id,
        kind: CallerKind::App {
            client_id: "x".into(),
        },
    }
}

/// The webhook of user 1.
pub(crate) fn webhook() -> Caller {
    Caller {
        key: "webhook:1".into(),
        user_id: 1,
        kind: CallerKind::Webhook,
    }
}

/// Runs `handler` with `params`; returns its outcome and the events it raised.
pub(crate) fn call(
    state: &mut State,
    caller: &Caller,
    handler: fn(&mut Ctx<'_>) -> Outcome,
    params: Value,
) -> (Outcome, Vec<Emitted>) {
    let Value::Object(map) = params else {
        panic!("params must be an object")
    };
    let params = Params::new(map);
    let base = Url::parse("http://127.0.0.1:1/").unwrap();
    let mut ctx = Ctx {
        state,
        params: &params,
        caller,
        clock: Clock::new(),
        base_url: &base,
        emitted: Vec::new(),
    };
    let outcome = handler(&mut ctx);
    (outcome, ctx.emitted)
}

/// The result of a call that must succeed.
pub(crate) fn ok(
    state: &mut State,
    caller: &Caller,
    handler: fn(&mut Ctx<'_>) -> Outcome,
    params: Value,
) -> Value {
    match call(state, caller, handler, params).0 {
        Ok(reply) => reply.result,
        Err(fail) => panic!("the call failed: {fail:?}"),
    }
}

/// The failure of a call that must fail.
pub(crate) fn err(
    state: &mut State,
    caller: &Caller,
    handler: fn(&mut Ctx<'_>) -> Outcome,
    params: Value,
) -> Fail {
    match call(state, caller, handler, params).0 {
        Ok(reply) => panic!("the call succeeded: {:?}", reply.result),
        Err(fail) => fail,
    }
}
