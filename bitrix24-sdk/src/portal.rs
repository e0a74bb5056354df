//! The portal's address: scheme, host and port, with no path and no secret.

use std::fmt;
use std::net::IpAddr;

use url::Url;

use crate::error::{Error, Result};

/// The origin of a Bitrix24 portal, such as `https://example.bitrix24.ru`.
///
/// It never carries a path, so it never carries a webhook secret: it is safe to log and display.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PortalUrl(Url);

impl PortalUrl {
    /// Takes the origin (scheme, host, port) of `url`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) when the URL has no host or is not http(s).
    pub fn from_url(url: &Url) -> Result<Self> {
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(Error::config(
                "a portal address must be an http(s) URL with a host",
            ));
        }
        let mut origin = url.clone();
        origin.set_path("/");
        origin.set_query(None);
        origin.set_fragment(None);
        // Credentials in the authority would be a secret; a portal URL never needs them.
        let _ = origin.set_username("");
        let _ = origin.set_password(None);
        Ok(Self(origin))
    }

    /// The host name, such as `example.bitrix24.ru`.
    pub fn host(&self) -> &str {
        self.0.host_str().unwrap_or_default()
    }

    /// `host:port` with the scheme's default port filled in: the key the rate limiter shares on.
    pub fn host_port(&self) -> String {
        format!(
            "{}:{}",
            self.host(),
            self.0.port_or_known_default().unwrap_or(443)
        )
    }

    /// The origin as a URL (path `/`).
    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// Whether the portal is on this machine (127.0.0.0/8, `::1` or `localhost`).
    pub fn is_loopback(&self) -> bool {
        is_loopback(&self.0)
    }
}

impl fmt::Display for PortalUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str().trim_end_matches('/'))
    }
}

impl fmt::Debug for PortalUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PortalUrl({self})")
    }
}

/// Whether `url` points at this machine.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Refuses plain `http://` unless the host is loopback or the caller allowed it: the portal
/// itself refuses HTTP, and a webhook URL sent in clear text gives its secret away.
pub(crate) fn require_https(url: &Url, allow_insecure: bool, what: &str) -> Result<()> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure || is_loopback(url) => Ok(()),
        "http" => Err(Error::config(format!(
            "{what} must use https:// (plain http is only accepted for loopback hosts or with allow_insecure_http(true))"
        ))),
        _ => Err(Error::config(format!("{what} must be an https:// URL"))),
    }
}

/// Replaces the origin (scheme, host, port) of `url` with that of `origin`, keeping the path.
pub(crate) fn with_origin(url: &Url, origin: &Url) -> Result<Url> {
    let mut moved = origin.clone();
    moved.set_path(url.path());
    moved.set_query(None);
    moved.set_fragment(None);
    if moved.host_str().is_none() {
        return Err(Error::config("the new portal address has no host"));
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_drops_path_query_and_credentials() {
        let url = Url::parse("https://user:pw@example.bitrix24.ru/rest/1/secret/?x=1#f").unwrap();
        let portal = PortalUrl::from_url(&url).unwrap();
        assert_eq!(portal.to_string(), "https://example.bitrix24.ru");
        assert_eq!(portal.host_port(), "example.bitrix24.ru:443");
        assert!(!format!("{portal:?}").contains("secret"));
    }

    #[test]
    fn https_is_required_except_on_loopback() {
        let remote = Url::parse("http://example.bitrix24.ru/rest/").unwrap();
        assert!(require_https(&remote, false, "the webhook URL").is_err());
        assert!(require_https(&remote, true, "the webhook URL").is_ok());
        for local in [
            "http://127.0.0.1:8088/",
            "http://localhost/",
            "http://[::1]:9/",
            "http://127.3.2.1/",
        ] {
            assert!(
                require_https(&Url::parse(local).unwrap(), false, "x").is_ok(),
                "{local}"
            );
        }
        assert!(require_https(&Url::parse("ftp://example.com/").unwrap(), true, "x").is_err());
    }

    #[test]
    fn with_origin_keeps_the_path() {
        let endpoint = Url::parse("https://old.bitrix24.ru/rest/7/abc/").unwrap();
        let origin = Url::parse("https://new.bitrix24.ru:8443/whatever").unwrap();
        assert_eq!(
            with_origin(&endpoint, &origin).unwrap().as_str(),
            "https://new.bitrix24.ru:8443/rest/7/abc/"
        );
    }
}
