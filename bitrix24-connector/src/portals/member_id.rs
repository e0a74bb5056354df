//! The `member_id` check: a portal's id becomes a database key and a cache key, and arrives in
//! requests anyone can send, so it is checked before it is used for anything.

use super::PortalError;

/// The longest `member_id` accepted. Portals send 32 hex digits; the margin is for on-premise
/// installations and future formats.
pub const MAX_MEMBER_ID_LEN: usize = 64;

/// Whether `member_id` is acceptable: 1 to [`MAX_MEMBER_ID_LEN`] characters from
/// `[A-Za-z0-9_-]`.
pub fn is_valid_member_id(member_id: &str) -> bool {
    !member_id.is_empty()
        && member_id.len() <= MAX_MEMBER_ID_LEN
        && member_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Checks `member_id` (see [`is_valid_member_id`]).
///
/// # Errors
/// [`PortalError::BadInstall`] when it is empty, too long or has other characters. The message
/// does not repeat the value, which may be anything a caller sent.
pub fn validate_member_id(member_id: &str) -> Result<(), PortalError> {
    if is_valid_member_id(member_id) {
        Ok(())
    } else {
        Err(PortalError::BadInstall(format!(
            "member_id must be 1 to {MAX_MEMBER_ID_LEN} characters of A-Z, a-z, 0-9, _ or -"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_portals_send() {
        for id in [
            "a223c6b3710f85df22e9377d6c4f7553",
            "m",
            "on-prem_1",
            &"f".repeat(64),
        ] {
            assert!(is_valid_member_id(id), "{id}");
            assert!(validate_member_id(id).is_ok());
        }
    }

    #[test]
    fn refuses_empty_long_and_odd_ids() {
        for id in [
            "",
            &"f".repeat(65),
            "a b",
            "../etc",
            "a/b",
            "a.b",
            "ü",
            "a\0",
            "a'--",
            " a",
        ] {
            assert!(!is_valid_member_id(id), "{id:?}");
            let error = validate_member_id(id).unwrap_err();
            assert!(matches!(error, PortalError::BadInstall(_)), "{error:?}");
        }
    }
}
