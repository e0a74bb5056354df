//! Signed, expiring links to customers' Telegram files.
//!
//! The portal downloads a customer's attachment from the URL given in
//! `imconnector.send.messages`. Telegram's own file URL carries the bot token, so it must never
//! leave the bridge: the portal gets `{public_url}/files/{token}` instead, where the token names
//! the Telegram `file_id`, the file name and an expiry, signed with HMAC-SHA256. The bridge
//! checks the signature and the expiry, then streams the file from Telegram.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What a valid link names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedFile {
    /// Telegram's `file_id`.
    pub file_id: String,
    /// The name the portal shows.
    pub name: String,
    /// Unix seconds after which the link is refused.
    pub expires_at: i64,
}

/// Signs and checks file links with one secret key.
#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkSigner").finish_non_exhaustive()
    }
}

/// Why a link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a token this bridge made (or altered).
    #[error("the file link is not valid")]
    Invalid,
    /// A token this bridge made, too old.
    #[error("the file link has expired")]
    Expired,
}

impl LinkSigner {
    /// A signer with `key` (at least 32 bytes of randomness; the bridge keeps one in its store).
    pub fn new(key: impl Into<Vec<u8>>) -> Self {
        Self { key: key.into() }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length: this cannot fail.
        <HmacSha256 as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }

    /// The token for a file, valid until `expires_at` (Unix seconds).
    pub fn sign(&self, file_id: &str, name: &str, expires_at: i64) -> String {
        let payload = serde_json::json!([file_id, name, expires_at]).to_string();
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let signature = mac.finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    /// Checks a token at `now` (Unix seconds).
    ///
    /// # Errors
    /// [`LinkError::Invalid`] for anything not signed by this key, [`LinkError::Expired`] for
    /// a valid token past its time.
    pub fn verify(&self, token: &str, now: i64) -> Result<LinkedFile, LinkError> {
        let (payload, signature) = token.split_once('.').ok_or(LinkError::Invalid)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| LinkError::Invalid)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| LinkError::Invalid)?;
        let mut mac = self.mac();
        mac.update(&payload);
        // Constant time: `verify_slice` compares without an early exit.
        mac.verify_slice(&signature)
            .map_err(|_| LinkError::Invalid)?;
        let (file_id, name, expires_at): (String, String, i64) =
            serde_json::from_slice(&payload).map_err(|_| LinkError::Invalid)?;
        if now > expires_at {
            return Err(LinkError::Expired);
        }
        Ok(LinkedFile {
            file_id,
            name,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_link_names_its_file_until_it_expires() {
        let signer = LinkSigner::new(vec![7; 32]);
        let token = signer.sign("AgACAgIAAxkBAAIB", "фото 1.jpg", 1_000);
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        );
        let file = signer.verify(&token, 999).unwrap();
        assert_eq!(file.file_id, "AgACAgIAAxkBAAIB");
        assert_eq!(file.name, "фото 1.jpg");
        assert_eq!(signer.verify(&token, 1_001), Err(LinkError::Expired));
    }

    #[test]
    fn altered_or_foreign_links_are_refused() {
        let signer = LinkSigner::new(vec![7; 32]);
        let token = signer.sign("file", "a.pdf", 1_000);
        let other = LinkSigner::new(vec![8; 32]);
        assert_eq!(other.verify(&token, 0), Err(LinkError::Invalid));
        let (payload, signature) = token.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(r#"["other","a.pdf",1000]"#);
        assert_eq!(
            signer.verify(&format!("{forged_payload}.{signature}"), 0),
            Err(LinkError::Invalid)
        );
        assert_eq!(signer.verify(payload, 0), Err(LinkError::Invalid));
        assert_eq!(signer.verify("", 0), Err(LinkError::Invalid));
        assert_eq!(signer.verify("a.b.c", 0), Err(LinkError::Invalid));
    }
}
