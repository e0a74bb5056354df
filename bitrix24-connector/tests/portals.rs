//! The connector as a multi-portal OAuth application, end to end against the sandbox portal:
//! the portal installs the app through `POST /bitrix24/install`, the app calls it with the
//! stored tokens, refreshes survive a restart, and forged or unknown senders are refused.
// Test helpers: a failure should stop the test where it happened.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bitrix24::TokenStore;
use bitrix24::events::ApplicationTokens;
use bitrix24::sandbox::SandboxPortal;
use bitrix24_connector::portals::{Installation, PortalError, Portals, SqliteTokenStore};
use bitrix24_connector::store::Store;
use tokio::sync::mpsc;

struct Harness {
    sandbox: SandboxPortal,
    portals: Portals,
    installs: mpsc::UnboundedReceiver<Installation>,
    install_url: String,
    path: std::path::PathBuf,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn start() -> Harness {
    let sandbox = SandboxPortal::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("connector.db");
    let store = Store::open(&path).await.unwrap();
    let (sent, installs) = mpsc::unbounded_channel();
    let portals =
        Portals::new(store, sandbox.oauth_app()).on_install(move |installation, client| {
            let sent = sent.clone();
            Box::pin(async move {
                // What a flow does here: call the new portal with its client.
                client.users().current().await.unwrap();
                let _ = sent.send(installation);
            })
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let install_url = format!("http://{}/bitrix24/install", listener.local_addr().unwrap());
    let router = portals.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Harness {
        sandbox,
        portals,
        installs,
        install_url,
        path,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

impl Harness {
    async fn install(&mut self) -> Installation {
        self.sandbox
            .install_app_to(&self.install_url)
            .await
            .unwrap();
        let delivery = self.sandbox.deliveries().pop().unwrap();
        assert_eq!(delivery.event, "ONAPPINSTALL");
        assert_eq!(delivery.status, Some(200), "{:?}", delivery.error);
        self.next_install().await
    }

    async fn next_install(&mut self) -> Installation {
        tokio::time::timeout(Duration::from_secs(10), self.installs.recv())
            .await
            .expect("the install hook did not run")
            .unwrap()
    }

    /// The form of the sandbox's last `ONAPPINSTALL`, with `changes` applied.
    fn install_form(&self, changes: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut form = self
            .sandbox
            .deliveries()
            .into_iter()
            .rfind(|d| d.event == "ONAPPINSTALL")
            .unwrap()
            .form;
        for (key, value) in changes {
            match form.iter_mut().find(|(k, _)| k == key) {
                Some(field) => (*value).clone_into(&mut field.1),
                None => form.push(((*key).to_owned(), (*value).to_owned())),
            }
        }
        form
    }

    async fn post(&self, form: &[(String, String)]) -> (u16, String) {
        let response = self
            .http
            .post(&self.install_url)
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }
}

fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_call_refresh_and_restart() {
    let mut h = start().await;
    let member = h.sandbox.member_id().to_owned();
    let installation = h.install().await;
    assert_eq!(installation.member_id, member);
    assert_eq!(
        installation.client_endpoint,
        format!("{}rest/", h.sandbox.base_url())
    );
    assert!(!installation.scope.is_empty());
    assert_eq!(h.portals.get(&member).await.unwrap(), Some(installation));
    assert_eq!(h.portals.list().await.unwrap().len(), 1);
    // The install's tokens were confirmed at the token server: one refresh.
    assert_eq!(h.sandbox.token_refreshes(), 1);

    let client = h.portals.client(&member).await.unwrap();
    client.users().current().await.unwrap();
    assert_eq!(h.sandbox.token_refreshes(), 1);

    // An hour later, as it were: the next call refreshes once, and the pair is saved.
    h.sandbox.expire_access_tokens();
    let again = h.portals.client(&member).await.unwrap();
    assert!(std::ptr::eq(
        client.operating_budget(),
        again.operating_budget()
    ));
    again.users().current().await.unwrap();
    assert_eq!(h.sandbox.token_refreshes(), 2);
    let in_use = client.tokens().unwrap();
    let stored = SqliteTokenStore::open(h.portals.store().clone(), &member)
        .await
        .unwrap()
        .load()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.access_token, in_use.access_token);
    assert_eq!(stored.refresh_token, in_use.refresh_token);

    // A restart: a new store and new portals over the same file call without refreshing.
    drop((client, again));
    let reopened = Portals::new(Store::open(&h.path).await.unwrap(), h.sandbox.oauth_app());
    let client = reopened.client(&member).await.unwrap();
    client.users().current().await.unwrap();
    assert_eq!(h.sandbox.token_refreshes(), 2);

    // And the refreshed refresh token still works after the restart.
    h.sandbox.expire_access_tokens();
    client.users().current().await.unwrap();
    assert_eq!(h.sandbox.token_refreshes(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_unknown_senders_are_refused() {
    let mut h = start().await;
    let member = h.sandbox.member_id().to_owned();
    h.install().await;
    let token = h.sandbox.application_token();
    let token = token.expose_secret();

    // An event with the wrong application token.
    let lead = |member: &str, token: &str| {
        fields(&[
            ("event", "ONCRMLEADADD"),
            ("data[FIELDS][ID]", "1"),
            ("auth[member_id]", member),
            ("auth[application_token]", token),
        ])
    };
    assert_eq!(h.post(&lead(&member, "forged")).await.0, 401);
    assert_eq!(h.post(&lead(&member, token)).await.0, 200);
    // A portal that never installed the app.
    let (status, body) = h.post(&lead("unknown-portal", token)).await;
    assert_eq!(status, 401, "{body}");

    // A repeated ONAPPINSTALL with a different application token cannot take over.
    let forged = h.install_form(&[("auth[application_token]", "forged")]);
    assert_eq!(h.post(&forged).await.0, 401);
    assert!(h.portals.client(&member).await.is_ok());

    // A first install of an unknown portal with made-up tokens: the token server refuses them
    // and nothing is left behind, not even the application token.
    let made_up = h.install_form(&[
        ("auth[member_id]", "forged-portal"),
        ("auth[refresh_token]", "made-up"),
        ("auth[application_token]", "forged"),
    ]);
    assert_eq!(h.post(&made_up).await.0, 401);
    assert_eq!(h.portals.get("forged-portal").await.unwrap(), None);
    assert!(
        h.portals
            .application_tokens()
            .get("forged-portal")
            .await
            .is_none()
    );

    // Real tokens claimed for another member_id: the token server names the real portal.
    h.sandbox.install_app_to(&h.install_url).await.unwrap();
    h.next_install().await;
    let fresh = h.sandbox.install_app().unwrap();
    let stolen = h.install_form(&[
        ("auth[member_id]", "victim-portal"),
        ("auth[refresh_token]", fresh.refresh_token.expose_secret()),
    ]);
    let (status, body) = h.post(&stolen).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(h.portals.get("victim-portal").await.unwrap(), None);
    assert!(
        h.portals
            .application_tokens()
            .get("victim-portal")
            .await
            .is_none()
    );

    // Garbage.
    let response = h
        .http
        .post(&h.install_url)
        .body("%%%")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(h.post(&fields(&[("hello", "x")])).await.0, 400);

    // A forged uninstall changes nothing; the real one forgets the portal.
    let uninstall = |token: &str| {
        fields(&[
            ("event", "ONAPPUNINSTALL"),
            ("data[CLEAN]", "0"),
            ("auth[member_id]", &member),
            ("auth[application_token]", token),
        ])
    };
    assert_eq!(h.post(&uninstall("forged")).await.0, 401);
    assert!(h.portals.get(&member).await.unwrap().is_some());
    assert_eq!(h.post(&uninstall(token)).await.0, 200);
    assert_eq!(h.portals.get(&member).await.unwrap(), None);
    assert!(matches!(
        h.portals.client(&member).await.unwrap_err(),
        PortalError::NotInstalled(_)
    ));
    assert_eq!(h.post(&lead(&member, token)).await.0, 401);

    // The hook ran once per accepted install and never for a refused one.
    assert!(h.installs.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_install_page_stores_tokens_and_finishes_the_install() {
    let mut h = start().await;
    let member = h.sandbox.member_id().to_owned();
    let tokens = h.sandbox.install_app().unwrap();
    let app_token = h.sandbox.application_token();
    let base = h.sandbox.base_url();
    let domain = format!("{}:{}", base.host_str().unwrap(), base.port().unwrap());
    let page = fields(&[
        ("AUTH_ID", tokens.access_token.expose_secret()),
        ("AUTH_EXPIRES", "3600"),
        ("REFRESH_ID", tokens.refresh_token.expose_secret()),
        ("SERVER_ENDPOINT", "https://oauth.bitrix24.tech/rest/"),
        ("APPLICATION_TOKEN", app_token.expose_secret()),
        ("APPLICATION_SCOPE", "crm,user"),
        ("member_id", &member),
        ("status", "L"),
        ("PLACEMENT", "DEFAULT"),
        ("PLACEMENT_OPTIONS", "{}"),
    ]);
    let response = h
        .http
        .post(format!(
            "{}?DOMAIN={domain}&PROTOCOL=0&LANG=en&APP_SID=abc",
            h.install_url
        ))
        .form(&page)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("BX24.installFinish()"), "{html}");

    let installation = h.next_install().await;
    assert_eq!(installation.member_id, member);
    h.portals
        .client(&member)
        .await
        .unwrap()
        .users()
        .current()
        .await
        .unwrap();

    // Events of that portal now verify.
    let lead = fields(&[
        ("event", "ONCRMLEADADD"),
        ("auth[member_id]", &member),
        ("auth[application_token]", app_token.expose_secret()),
    ]);
    assert_eq!(h.post(&lead).await.0, 200);

    // A page without a refresh token is refused.
    let partial: Vec<_> = page
        .into_iter()
        .filter(|(k, _)| k != "REFRESH_ID")
        .collect();
    let response = h
        .http
        .post(format!("{}?DOMAIN={domain}", h.install_url))
        .form(&partial)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
}
