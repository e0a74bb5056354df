//! Ready-to-run Bitrix24 integrations built only on the public API of the `bitrix24` SDK.
//!
//! Three durable, idempotent flows, each with a binary in `examples/`:
//!
//! - **Lead intake** ([`leads`], binary `lead-intake`): a website form endpoint that stores
//!   every submission first, uploads its attachments to Disk and creates the CRM lead exactly
//!   once, through portal outages, lost replies and restarts.
//! - **Telegram bridge** ([`bridge`], binary `telegram-bridge`): customers write in Telegram,
//!   operators answer in Bitrix24 Open Lines, both ways, with files, edits, deletions, delivery
//!   status and CRM binding. Its Telegram plumbing is shared: [`telegram::inbox`] keeps updates
//!   received by [`telegram::polling`] or [`telegram::webhook`], [`telegram::send`] sends,
//!   [`telegram::markup`] converts BB-code to Telegram HTML.
//! - **Approval flow** ([`approvals`], binary `approval-flow`): requests for approval as
//!   Bitrix24 tasks, decided from Telegram with one tap, mirrored back to Bitrix24, with the
//!   Telegram ↔ Bitrix24 user mapping kept in sync.
//!
//! [`portals`] makes the connector a multi-portal Bitrix24 OAuth application: the install
//! handler, each portal's tokens (refreshed and saved in the store) and event verification.
//!
//! Everything a flow receives is written to the [`store`] (SQLite) before it is acknowledged.
//!
//! With the `sandbox` feature, `sandbox_telegram` provides an in-process emulator of the
//! Telegram Bot API, so these flows are tested end to end with an unchanged
//! `teloxide_core::Bot`, beside the SDK's sandbox Bitrix24 portal.

pub mod approvals;
pub mod bridge;
pub mod leads;
pub mod portals;
#[cfg(feature = "sandbox")]
pub mod sandbox_telegram;
mod secrets;
pub mod store;
pub mod telegram;

/// The SDK this crate is built on, re-exported so integrators need a single dependency.
pub use bitrix24;
