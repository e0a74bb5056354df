//! Wire behaviour of the client against a mock portal (wiremock on loopback).
#![allow(
    clippy::unwrap_used,
    clippy::needless_pass_by_value,
    clippy::doc_markdown
)]

#[path = "client/support.rs"]
mod support;

#[path = "client/calls.rs"]
mod calls;
#[path = "client/limits.rs"]
mod limits;
#[path = "client/moved.rs"]
mod moved;
#[path = "client/oauth.rs"]
mod oauth;
#[path = "client/redaction.rs"]
mod redaction;
#[path = "client/retries.rs"]
mod retries;
