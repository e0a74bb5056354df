//! Lead intake: a website contact form turned into a CRM lead.
//!
//! [`form`] parses and validates a submission; storing it and creating the lead build on that.

pub mod form;
