//! End-to-end tests of the SDK, the connector flows and the binaries live in `tests/`.
//!
//! They run against the embedded sandbox portal once it exists; until then they exercise the
//! public API of the SDK the way an application does.
