//! The install page of an app with a UI: the portal opens the app's install URL in an iframe
//! with a form POST (settings/oauth/simple-way.md, PROTOCOL.md §C):
//!
//! - query: `DOMAIN`, `PROTOCOL` (0 = http, 1 = https), `LANG`, `APP_SID`;
//! - body: `AUTH_ID` (the access token), `AUTH_EXPIRES` (seconds), `REFRESH_ID`,
//!   `SERVER_ENDPOINT`, `APPLICATION_TOKEN`, `APPLICATION_SCOPE`, `member_id`, `status`,
//!   `PLACEMENT` (`DEFAULT`), `PLACEMENT_OPTIONS`.
//!
//! It is read as the `ONAPPINSTALL` event it is equivalent to, and answered with a page that
//! calls `BX24.installFinish()`: until an app with a UI does that, the portal delivers it no
//! events and shows none of its placements (settings/app-installation/installation-finish.md).

use std::collections::HashMap;

use bitrix24::events::Event;
use serde_json::{Map, Value, json};
use url::Url;

use super::PortalError;

/// The field that marks a form as the install page's POST rather than an event.
pub(crate) const AUTH_ID: &str = "AUTH_ID";

/// Reads the install page's fields (`query` and `body` merged; the body wins) as an
/// `ONAPPINSTALL` event.
pub(crate) fn to_event(
    query: &HashMap<String, String>,
    body: &Map<String, Value>,
) -> Result<Event, PortalError> {
    let field = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .or_else(|| query.get(name).map(String::as_str))
            .map(str::trim)
            .filter(|value| !value.is_empty())
    };
    let required = |name: &str| {
        field(name)
            .ok_or_else(|| PortalError::BadInstall(format!("the install page has no {name}")))
    };
    let domain = required("DOMAIN")?;
    let scheme = if field("PROTOCOL") == Some("0") {
        "http"
    } else {
        "https"
    };
    let client_endpoint = client_endpoint(scheme, domain)?;
    let mut auth = json!({
        "access_token": required(AUTH_ID)?,
        "refresh_token": required("REFRESH_ID")?,
        "application_token": required("APPLICATION_TOKEN")?,
        "member_id": required("member_id")?,
        "domain": domain,
        "client_endpoint": client_endpoint.as_str(),
    });
    if let Value::Object(auth) = &mut auth {
        for (from, to) in [
            ("AUTH_EXPIRES", "expires_in"),
            ("SERVER_ENDPOINT", "server_endpoint"),
            ("APPLICATION_SCOPE", "scope"),
            ("status", "status"),
        ] {
            if let Some(value) = field(from) {
                auth.insert(to.to_owned(), Value::from(value));
            }
        }
    }
    let language = field("LANG").unwrap_or_default();
    Event::from_value(json!({
        "event": "ONAPPINSTALL",
        "data": { "LANGUAGE_ID": language, "INSTALLED": "N" },
        "auth": auth,
    }))
    .map_err(PortalError::Sdk)
}

/// `{scheme}://{domain}/rest/`, refusing a `DOMAIN` that is more than a host and a port (a
/// path, credentials or a query would redirect the app's calls).
fn client_endpoint(scheme: &str, domain: &str) -> Result<Url, PortalError> {
    let bad = || PortalError::BadInstall("the install page's DOMAIN is not a host name".into());
    if domain.contains(['/', '\\', '@', '?', '#']) {
        return Err(bad());
    }
    let url = Url::parse(&format!("{scheme}://{domain}/rest/")).map_err(|_| bad())?;
    if url.host_str().is_none_or(str::is_empty) || url.path() != "/rest/" {
        return Err(bad());
    }
    Ok(url)
}

/// The page answered to the install POST: loads the BX24 library and finishes the install.
pub(crate) const FINISH_PAGE: &str = r#"<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>Installing</title>
<script src="//api.bitrix24.com/api/v1/"></script>
</head>
<body>
<p>Installing the application…</p>
<script>
BX24.init(function () { BX24.installFinish(); });
</script>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn body(pairs: &[(&str, &str)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect()
    }

    fn page() -> Map<String, Value> {
        body(&[
            ("AUTH_ID", "at-1"),
            ("AUTH_EXPIRES", "3600"),
            ("REFRESH_ID", "rt-1"),
            ("SERVER_ENDPOINT", "https://oauth.bitrix24.tech/rest/"),
            ("APPLICATION_TOKEN", "app-1"),
            ("APPLICATION_SCOPE", "crm,imopenlines"),
            ("member_id", "m1"),
            ("status", "L"),
            ("PLACEMENT", "DEFAULT"),
            ("PLACEMENT_OPTIONS", "{}"),
        ])
    }

    fn query(domain: &str) -> HashMap<String, String> {
        HashMap::from([
            ("DOMAIN".to_owned(), domain.to_owned()),
            ("PROTOCOL".to_owned(), "1".to_owned()),
            ("APP_SID".to_owned(), "sid".to_owned()),
        ])
    }

    #[test]
    fn reads_the_page_as_an_install_event() {
        let event = to_event(&query("example.bitrix24.ru"), &page()).unwrap();
        assert_eq!(event.name, "ONAPPINSTALL");
        assert_eq!(event.member_id(), Some("m1"));
        assert_eq!(event.application_token().unwrap().expose_secret(), "app-1");
        let tokens = event.auth.as_ref().unwrap().tokens().unwrap();
        assert_eq!(tokens.access_token.expose_secret(), "at-1");
        assert_eq!(tokens.refresh_token.expose_secret(), "rt-1");
        assert_eq!(tokens.scope, ["crm", "imopenlines"]);
        assert!(tokens.expires_at.is_some());
        assert_eq!(
            tokens.client_endpoint.unwrap().as_str(),
            "https://example.bitrix24.ru/rest/"
        );
    }

    #[test]
    fn protocol_zero_means_http_and_the_body_may_carry_domain() {
        let mut fields = page();
        fields.insert("DOMAIN".into(), "127.0.0.1:8080".into());
        fields.insert("PROTOCOL".into(), "0".into());
        let event = to_event(&HashMap::new(), &fields).unwrap();
        let endpoint = event.auth.unwrap().client_endpoint.unwrap();
        assert_eq!(endpoint, "http://127.0.0.1:8080/rest/");
    }

    #[test]
    fn refuses_missing_fields_and_odd_domains() {
        for missing in ["AUTH_ID", "REFRESH_ID", "APPLICATION_TOKEN", "member_id"] {
            let mut fields = page();
            fields.remove(missing);
            let error = to_event(&query("example.bitrix24.ru"), &fields).unwrap_err();
            assert!(error.to_string().contains(missing), "{error}");
        }
        assert!(to_event(&HashMap::new(), &page()).is_err());
        for domain in [
            "evil.example/steal?",
            "user@evil.example",
            "evil.example#",
            "a b",
            "evil.example\\x",
        ] {
            let error = to_event(&query(domain), &page()).unwrap_err();
            assert!(
                matches!(error, PortalError::BadInstall(_)),
                "{domain}: {error:?}"
            );
        }
    }

    #[test]
    fn the_page_finishes_the_install() {
        assert!(FINISH_PAGE.contains("BX24.installFinish()"));
        assert!(FINISH_PAGE.contains("//api.bitrix24.com/api/v1/"));
    }
}
