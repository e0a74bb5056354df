//! Incoming-webhook URLs: `https://{portal}/rest/{user_id}/{secret}/`.

use std::fmt;
use std::str::FromStr;

use url::Url;

use super::secret::WebhookSecret;
use crate::error::{Error, Result};
use crate::portal::PortalUrl;

const SHAPE: &str = "a webhook URL must look like https://<portal>/rest/<user id>/<secret>/";

/// A parsed incoming-webhook URL.
///
/// Accepts the URL as the portal shows it, with or without the trailing slash, and also with a
/// method name appended (`…/<secret>/profile` or `…/<secret>/crm.lead.add.json`), which is how
/// webhook URLs are often pasted. Its `Debug` shows the portal and user id, never the secret;
/// parse errors never repeat the URL.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    portal: PortalUrl,
    prefix: String,
    user_id: u64,
    secret: WebhookSecret,
}

impl WebhookUrl {
    /// Parses a webhook URL.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) with a message that describes the expected
    /// shape (and does not repeat the input, which holds the secret).
    pub fn parse(input: &str) -> Result<Self> {
        let url = Url::parse(input.trim()).map_err(|_| Error::config(SHAPE))?;
        let portal = PortalUrl::from_url(&url).map_err(|_| Error::config(SHAPE))?;
        let segments: Vec<&str> = url
            .path_segments()
            .map(|segments| segments.filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        // On-premise portals may live under a path prefix, so look for the `rest` segment
        // instead of assuming it comes first.
        let rest_at = segments
            .iter()
            .position(|s| *s == "rest")
            .ok_or_else(|| Error::config(SHAPE))?;
        let after = &segments[rest_at + 1..];
        if !(2..=3).contains(&after.len()) {
            return Err(Error::config(SHAPE));
        }
        let user_id: u64 = after[0]
            .parse()
            .map_err(|_| Error::config("the webhook URL's user id must be a number"))?;
        let secret = after[1];
        if secret.is_empty()
            || !secret
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(Error::config("the webhook URL's secret part is malformed"));
        }
        let prefix = segments[..rest_at]
            .iter()
            .fold(String::new(), |mut prefix, segment| {
                prefix.push('/');
                prefix.push_str(segment);
                prefix
            });
        Ok(Self {
            portal,
            prefix,
            user_id,
            secret: WebhookSecret::new(secret),
        })
    }

    /// The portal the webhook belongs to.
    pub fn portal(&self) -> &PortalUrl {
        &self.portal
    }

    /// The id of the user who created the webhook; calls run as this user.
    pub fn user_id(&self) -> u64 {
        self.user_id
    }

    /// The webhook's secret code.
    pub fn secret(&self) -> &WebhookSecret {
        &self.secret
    }

    /// The REST base to which method names are appended: `https://portal/rest/{user}/{secret}/`.
    ///
    /// # Security
    /// The returned URL contains the secret: do not log or display it.
    pub fn endpoint(&self) -> Url {
        let mut url = self.portal.as_url().clone();
        url.set_path(&format!(
            "{}/rest/{}/{}/",
            self.prefix,
            self.user_id,
            self.secret.expose_secret()
        ));
        url
    }
}

impl FromStr for WebhookUrl {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookUrl")
            .field("portal", &self.portal)
            .field("user_id", &self.user_id)
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_pasted_form() {
        for input in [
            "https://example.bitrix24.ru/rest/1/abc123xyz/",
            "https://example.bitrix24.ru/rest/1/abc123xyz",
            "https://example.bitrix24.ru/rest/1/abc123xyz/profile",
            "https://example.bitrix24.ru/rest/1/abc123xyz/crm.lead.add.json",
            "  https://example.bitrix24.ru/rest/1/abc123xyz/  ",
        ] {
            let hook = WebhookUrl::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(hook.user_id(), 1);
            assert_eq!(hook.secret().expose_secret(), "abc123xyz");
            assert_eq!(
                hook.endpoint().as_str(),
                "https://example.bitrix24.ru/rest/1/abc123xyz/"
            );
        }
    }

    #[test]
    fn keeps_port_and_path_prefix() {
        let hook = WebhookUrl::parse("http://127.0.0.1:8088/portal/rest/12/k/").unwrap();
        assert_eq!(
            hook.endpoint().as_str(),
            "http://127.0.0.1:8088/portal/rest/12/k/"
        );
        assert_eq!(hook.portal().host_port(), "127.0.0.1:8088");
    }

    #[test]
    fn errors_never_repeat_the_secret() {
        for input in [
            "not a url topsecret",
            "https://example.bitrix24.ru/api/1/topsecret/",
            "https://example.bitrix24.ru/rest/x/topsecret/",
            "https://example.bitrix24.ru/rest/1/",
            "https://example.bitrix24.ru/rest/1/top$secret/",
            "https://example.bitrix24.ru/rest/1/topsecret/a/b",
        ] {
            let error = WebhookUrl::parse(input).unwrap_err();
            assert!(error.to_string().contains("webhook URL"), "{error}");
            assert!(!error.to_string().contains("topsecret"), "{error}");
            assert!(!format!("{error:?}").contains("topsecret"), "{error:?}");
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let hook = WebhookUrl::parse("https://example.bitrix24.ru/rest/1/abc123xyz/").unwrap();
        let debug = format!("{hook:?}");
        assert!(
            debug.contains("example.bitrix24.ru") && !debug.contains("abc123xyz"),
            "{debug}"
        );
    }
}
