//! Ready-to-run Bitrix24 integrations built only on the public API of the `bitrix24` SDK.
//!
//! This crate will hold three durable, idempotent flows, each with a binary in `examples/`:
//!
//! - **Telegram bridge**: customers write in Telegram, operators answer in Bitrix24 Open Lines
//!   (`imconnector.*`), both ways, with attachments, delivery status and CRM binding.
//! - **Lead intake**: a website form endpoint that stores every submission first, uploads its
//!   attachments to Disk and creates the CRM lead exactly once.
//! - **Approval flow**: approvals as Bitrix24 tasks, decided from Telegram with inline buttons.
//!
//! None of them is implemented yet; the SDK they build on comes first.
//!
//! With the `sandbox` feature, [`sandbox_telegram`] provides an in-process emulator of the
//! Telegram Bot API, so these flows can be tested end to end with an unchanged
//! `teloxide_core::Bot`, alongside the SDK's sandbox Bitrix24 portal.

/// The SDK this crate is built on, re-exported so integrators need a single dependency.
pub use bitrix24;

#[cfg(feature = "sandbox")]
pub mod sandbox_telegram;
