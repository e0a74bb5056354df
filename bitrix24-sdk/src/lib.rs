#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod auth;
pub mod batch;
mod client;
pub mod error;
pub mod export;
pub mod list;
mod method;
mod portal;
pub mod ratelimit;
pub mod record;
mod response;
pub mod retry;
#[cfg(feature = "sandbox")]
#[cfg_attr(docsrs, doc(cfg(feature = "sandbox")))]
pub mod sandbox;
mod transport;

pub use auth::{OAuthApp, TokenSet, TokenStore, WebhookUrl};
pub use batch::{Batch, BatchKey, BatchRef, BatchResponse};
pub use client::{Client, ClientBuilder, ClientMetrics, RetryEvent};
pub use error::{ApiError, Error, ErrorCode, ErrorKind, Result};
pub use export::{Export, ExportCheckpoint, ExportPage};
pub use list::{ListMethod, Page, RawList};
pub use method::{BoxFuture, Call, Method, RawCall};
pub use portal::PortalUrl;
pub use ratelimit::{Limits, RateLimiter};
pub use response::{Response, Timing, decode_reply};
pub use retry::{RetryClass, RetryDecision, RetryPolicy};
