//! Example programs for the `bitrix24` SDK; see the `examples/` folder of this package.
//!
//! Each example is a small program about one idea. They read the portal from the
//! `BITRIX24_WEBHOOK_URL` environment variable.
