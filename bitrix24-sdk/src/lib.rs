#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod auth;
pub mod batch;
mod client;
pub mod crm;
pub mod disk;
pub mod error;
pub mod events;
pub mod export;
pub mod files;
mod handles;
pub mod im;
pub mod imconnector;
pub mod imopenlines;
pub mod list;
mod method;
pub mod methods;
mod portal;
pub mod ratelimit;
pub mod record;
mod response;
pub mod retry;
#[cfg(feature = "sandbox")]
#[cfg_attr(docsrs, doc(cfg(feature = "sandbox")))]
pub mod sandbox;
pub mod tasks;
mod transport;
pub mod types;
pub mod user;

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
