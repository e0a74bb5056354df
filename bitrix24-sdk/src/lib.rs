#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod auth;
mod client;
pub mod error;
mod method;
mod portal;
pub mod ratelimit;
mod response;
pub mod retry;
#[cfg(feature = "sandbox")]
#[cfg_attr(docsrs, doc(cfg(feature = "sandbox")))]
pub mod sandbox;
mod transport;

pub use auth::{OAuthApp, TokenSet, TokenStore, WebhookUrl};
pub use client::{Client, ClientBuilder, ClientMetrics, RetryEvent};
pub use error::{ApiError, Error, ErrorCode, ErrorKind, Result};
pub use method::{BoxFuture, Call, Method, RawCall};
pub use portal::PortalUrl;
pub use ratelimit::{Limits, RateLimiter};
pub use response::{Response, Timing};
pub use retry::{RetryClass, RetryDecision, RetryPolicy};
