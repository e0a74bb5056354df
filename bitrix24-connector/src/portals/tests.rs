//! Storage-level tests of [`Portals`] with made-up installs (no token server: confirmation is
//! off), several portals in one database.

use bitrix24::auth::TokenStore;
use bitrix24::events::ApplicationTokens;

use super::*;

struct Fixture {
    portals: Portals,
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("connector.db");
    let store = Store::open(&path).await.unwrap();
    let portals =
        Portals::new(store, OAuthApp::new("app.test", "client-s3cret")).confirm_installs(false);
    Fixture {
        portals,
        path,
        _dir: dir,
    }
}

fn event(name: &str, member: &str, app_token: &str, n: u32) -> Event {
    Event::from_form(
        format!(
            "event={name}&data[VERSION]=1&auth[member_id]={member}\
             &auth[application_token]={app_token}&auth[access_token]=AT-s3cret-{n}\
             &auth[refresh_token]=RT-s3cret-{n}&auth[expires_in]=3600\
             &auth[client_endpoint]=https%3A%2F%2F{member}.example%2Frest%2F\
             &auth[domain]={member}.example&auth[scope]=crm%2Cimopenlines"
        )
        .as_bytes(),
    )
    .unwrap()
}

fn uninstall_event(member: &str, app_token: &str) -> Event {
    Event::from_form(
        format!(
            "event=ONAPPUNINSTALL&data[CLEAN]=0&auth[member_id]={member}\
             &auth[application_token]={app_token}"
        )
        .as_bytes(),
    )
    .unwrap()
}

fn lead_event(member: &str, app_token: &str) -> Event {
    Event::from_form(
        format!(
            "event=ONCRMLEADADD&data[FIELDS][ID]=1&auth[member_id]={member}\
             &auth[application_token]={app_token}"
        )
        .as_bytes(),
    )
    .unwrap()
}

async fn stored_tokens(portals: &Portals, member: &str) -> TokenSet {
    installations::load_tokens(portals.store().pool(), member)
        .await
        .unwrap()
        .unwrap()
        .tokens
}

#[tokio::test]
async fn two_portals_are_kept_apart() {
    let f = fixture().await;
    let p = &f.portals;
    let a = p
        .install_from_event(&event("ONAPPINSTALL", "portal-a", "tok-a", 1))
        .await
        .unwrap();
    let b = p
        .install_from_event(&event("ONAPPINSTALL", "portal-b", "tok-b", 2))
        .await
        .unwrap();
    assert_eq!(a.domain, "portal-a.example");
    assert_eq!(a.client_endpoint, "https://portal-a.example/rest/");
    assert_eq!(a.scope, ["crm", "imopenlines"]);
    assert_eq!(b.member_id, "portal-b");

    let list = p.list().await.unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.contains(&a) && list.contains(&b), "{list:?}");
    assert_eq!(p.get("portal-a").await.unwrap(), Some(a));
    assert_eq!(p.get("portal-c").await.unwrap(), None);

    assert_eq!(
        stored_tokens(p, "portal-a")
            .await
            .access_token
            .expose_secret(),
        "AT-s3cret-1"
    );
    assert_eq!(
        stored_tokens(p, "portal-b")
            .await
            .access_token
            .expose_secret(),
        "AT-s3cret-2"
    );

    // One client per portal, handed out again (same limiter and budget), distinct per portal.
    let a1 = p.client("portal-a").await.unwrap();
    let a2 = p.clone().client("portal-a").await.unwrap();
    let b1 = p.client("portal-b").await.unwrap();
    assert!(std::ptr::eq(a1.operating_budget(), a2.operating_budget()));
    assert!(!std::ptr::eq(a1.operating_budget(), b1.operating_budget()));
    assert_eq!(a1.portal().host(), "portal-a.example");
    assert_eq!(b1.portal().host(), "portal-b.example");

    // Each portal's events verify only with its own token.
    assert_eq!(
        p.verify(&lead_event("portal-a", "tok-a")).await.unwrap(),
        Verified::Matched
    );
    assert!(
        p.verify(&lead_event("portal-a", "tok-b"))
            .await
            .unwrap_err()
            .is_auth()
    );
    assert!(
        p.verify(&lead_event("portal-c", "tok-a"))
            .await
            .unwrap_err()
            .is_auth()
    );
}

#[tokio::test]
async fn a_reopened_store_still_knows_the_portals() {
    let f = fixture().await;
    f.portals
        .install_from_event(&event("ONAPPINSTALL", "portal-a", "tok-a", 1))
        .await
        .unwrap();
    let reopened = Portals::new(Store::open(&f.path).await.unwrap(), OAuthApp::new("x", "y"));
    assert_eq!(reopened.list().await.unwrap().len(), 1);
    assert!(reopened.client("portal-a").await.is_ok());
    assert_eq!(
        reopened
            .verify(&lead_event("portal-a", "tok-a"))
            .await
            .unwrap(),
        Verified::Matched
    );
}

#[tokio::test]
async fn reinstall_replaces_tokens_and_retires_the_old_clients_store() {
    let f = fixture().await;
    let p = &f.portals;
    let first = p
        .install_from_event(&event("ONAPPINSTALL", "portal-a", "tok-a", 1))
        .await
        .unwrap();
    let old_client = p.client("portal-a").await.unwrap();
    let old_store = SqliteTokenStore::open(p.store().clone(), "portal-a")
        .await
        .unwrap();

    let again = p
        .install_from_event(&event("ONAPPINSTALL", "portal-a", "tok-a", 2))
        .await
        .unwrap();
    assert_eq!(
        again.installed_at, first.installed_at,
        "a repeated install keeps its date"
    );
    assert!(again.updated_at >= first.updated_at);
    assert_eq!(
        stored_tokens(p, "portal-a")
            .await
            .access_token
            .expose_secret(),
        "AT-s3cret-2"
    );
    let new_client = p.client("portal-a").await.unwrap();
    assert!(!std::ptr::eq(
        old_client.operating_budget(),
        new_client.operating_budget()
    ));

    // A refresh finishing in a client of the first install must not overwrite the second's.
    let stale = TokenSet::new("AT-stale", "RT-stale");
    assert!(old_store.save(&stale).await.is_err());
    assert!(old_store.load().await.unwrap().is_none());
    assert_eq!(
        stored_tokens(p, "portal-a")
            .await
            .access_token
            .expose_secret(),
        "AT-s3cret-2"
    );

    // The current install's store saves and loads.
    let current = SqliteTokenStore::open(p.store().clone(), "portal-a")
        .await
        .unwrap();
    let refreshed = TokenSet::new("AT-3", "RT-3").with_member_id("portal-a");
    current.save(&refreshed).await.unwrap();
    assert_eq!(current.load().await.unwrap(), Some(refreshed));
}

#[tokio::test]
async fn update_is_verified_and_stores_new_tokens() {
    let f = fixture().await;
    let p = &f.portals;
    // An update for a portal that never installed is refused.
    let error = p
        .install_from_event(&event("ONAPPUPDATE", "portal-a", "tok-a", 1))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, PortalError::Sdk(e) if e.is_auth()),
        "{error:?}"
    );
    assert!(p.get("portal-a").await.unwrap().is_none());

    p.install_from_event(&event("ONAPPINSTALL", "portal-a", "tok-a", 1))
        .await
        .unwrap();
    let forged = p
        .handle_lifecycle(&event("ONAPPUPDATE", "portal-a", "other", 9))
        .await;
    assert!(
        matches!(&forged, Err(PortalError::Sdk(e)) if e.is_auth()),
        "{forged:?}"
    );
    assert_eq!(
        stored_tokens(p, "portal-a")
            .await
            .access_token
            .expose_secret(),
        "AT-s3cret-1"
    );

    let verified = p
        .handle_lifecycle(&event("ONAPPUPDATE", "portal-a", "tok-a", 2))
        .await;
    assert_eq!(verified.unwrap(), Verified::Updated);
    assert_eq!(
        stored_tokens(p, "portal-a")
            .await
            .access_token
            .expose_secret(),
        "AT-s3cret-2"
    );
}

#[tokio::test]
async fn a_forged_reinstall_cannot_take_over_a_portal() {
    let f = fixture().await;
    let p = &f.portals;
    p.install_from_event(&event("ONAPPINSTALL", "portal-a", "tok-a", 1))
        .await
        .unwrap();
    let error = p
        .install_from_event(&event("ONAPPINSTALL", "portal-a", "forged", 7))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, PortalError::Sdk(e) if e.is_auth()),
        "{error:?}"
    );
    assert_eq!(
        stored_tokens(p, "portal-a")
            .await
            .access_token
            .expose_secret(),
        "AT-s3cret-1"
    );
    assert_eq!(
        p.application_tokens()
            .get("portal-a")
            .await
            .unwrap()
            .expose_secret(),
        "tok-a"
    );
}

#[tokio::test]
async fn uninstall_is_verified_then_forgets_tokens_and_keeps_history() {
    let f = fixture().await;
    let p = &f.portals;
    p.install_from_event(&event("ONAPPINSTALL", "portal-a", "tok-a", 1))
        .await
        .unwrap();
    p.install_from_event(&event("ONAPPINSTALL", "portal-b", "tok-b", 2))
        .await
        .unwrap();
    p.client("portal-a").await.unwrap();

    // A forged uninstall changes nothing.
    let forged = p
        .handle_lifecycle(&uninstall_event("portal-a", "guess"))
        .await;
    assert!(
        matches!(&forged, Err(PortalError::Sdk(e)) if e.is_auth()),
        "{forged:?}"
    );
    assert!(p.get("portal-a").await.unwrap().is_some());

    let done = p
        .handle_lifecycle(&uninstall_event("portal-a", "tok-a"))
        .await
        .unwrap();
    assert_eq!(done, Verified::Uninstalled);
    assert!(p.get("portal-a").await.unwrap().is_none());
    assert!(matches!(
        p.client("portal-a").await.unwrap_err(),
        PortalError::NotInstalled(m) if m == "portal-a"
    ));
    assert!(p.application_tokens().get("portal-a").await.is_none());
    assert!(
        p.verify(&lead_event("portal-a", "tok-a"))
            .await
            .unwrap_err()
            .is_auth()
    );
    assert_eq!(p.list().await.unwrap().len(), 1, "portal-b stays");

    let (tokens, uninstalled_at): (Option<String>, Option<i64>) = sqlx::query_as(
        "SELECT tokens, uninstalled_at FROM portal_installations WHERE member_id = 'portal-a'",
    )
    .fetch_one(p.store().pool())
    .await
    .unwrap();
    assert!(tokens.is_none());
    assert!(uninstalled_at.is_some());

    // Installed again later, with a new application token: accepted as a first install.
    let back = p
        .install_from_event(&event("ONAPPINSTALL", "portal-a", "tok-a2", 3))
        .await
        .unwrap();
    assert!(back.installed_at >= uninstalled_at.unwrap());
    assert!(p.client("portal-a").await.is_ok());
}

/// Installs `member` with each of `tokens` at once, on several threads.
async fn race(
    p: &Portals,
    member: &str,
    tokens: &[&str],
) -> Vec<Result<Installation, PortalError>> {
    let tasks: Vec<_> = tokens
        .iter()
        .zip(1..)
        .map(|(token, n)| {
            let p = p.clone();
            let event = event("ONAPPINSTALL", member, token, n);
            tokio::spawn(async move { p.install_from_event(&event).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_installs_of_one_portal_do_not_corrupt_it() {
    let f = fixture().await;
    let p = &f.portals;
    // Same portal, same token: all succeed, one row, one of their pairs.
    for result in race(p, "portal-a", &["tok-a"; 4]).await {
        result.unwrap();
    }
    assert_eq!(p.list().await.unwrap().len(), 1);
    let access = stored_tokens(p, "portal-a").await.access_token;
    assert!(
        (1..=4).any(|n| access.expose_secret() == format!("AT-s3cret-{n}")),
        "a torn row"
    );

    // A new portal, different tokens: exactly one install wins, and its token is stored.
    let results = race(p, "portal-b", &["tok-1", "tok-2", "tok-3", "tok-4"]).await;
    let winners: Vec<usize> = (0..4).filter(|i| results[*i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for result in &results {
        if let Err(error) = result {
            assert!(
                matches!(error, PortalError::Sdk(e) if e.is_auth()),
                "{error:?}"
            );
        }
    }
    assert_eq!(
        p.application_tokens()
            .get("portal-b")
            .await
            .unwrap()
            .expose_secret(),
        format!("tok-{}", winners[0] + 1)
    );
    assert_eq!(
        stored_tokens(p, "portal-b")
            .await
            .access_token
            .expose_secret(),
        format!("AT-s3cret-{}", winners[0] + 1)
    );
}

#[tokio::test]
async fn bad_installs_are_refused_before_storing_anything() {
    let f = fixture().await;
    let p = &f.portals;
    for bad in ["", "a b", "../x", &"f".repeat(65)] {
        let error = p
            .install_from_event(&event("ONAPPINSTALL", bad, "tok", 1))
            .await;
        assert!(
            matches!(error, Err(PortalError::BadInstall(_))),
            "{bad:?}: {error:?}"
        );
        assert!(matches!(p.get(bad).await, Err(PortalError::BadInstall(_))));
        assert!(matches!(
            p.client(bad).await,
            Err(PortalError::BadInstall(_))
        ));
    }
    let no_tokens = Event::from_form(
        b"event=ONAPPINSTALL&auth[member_id]=portal-a&auth[application_token]=tok",
    )
    .unwrap();
    assert!(matches!(
        p.install_from_event(&no_tokens).await,
        Err(PortalError::BadInstall(_))
    ));
    let lead = p.install_from_event(&lead_event("portal-a", "tok")).await;
    assert!(matches!(lead, Err(PortalError::BadInstall(_))), "{lead:?}");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM portal_installations")
        .fetch_one(p.store().pool())
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn the_install_hooks_run_once_per_install() {
    let f = fixture().await;
    let (sent, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let p = f.portals.clone().on_install(move |installation, _client| {
        let sent = sent.clone();
        Box::pin(async move {
            let _ = sent.send(installation.member_id);
        })
    });
    p.install_from_event(&event("ONAPPINSTALL", "portal-a", "tok-a", 1))
        .await
        .unwrap();
    p.install_from_event(&event("ONAPPINSTALL", "portal-b", "tok-b", 2))
        .await
        .unwrap();
    let _ = p
        .install_from_event(&event("ONAPPINSTALL", "portal-b", "forged", 3))
        .await;
    let mut got = vec![seen.recv().await.unwrap(), seen.recv().await.unwrap()];
    got.sort();
    assert_eq!(got, ["portal-a", "portal-b"]);
    tokio::task::yield_now().await;
    assert!(seen.try_recv().is_err(), "a refused install ran the hook");
}

#[tokio::test]
async fn nothing_secret_shows_in_debug_or_errors() {
    let f = fixture().await;
    let p = &f.portals;
    p.install_from_event(&event("ONAPPINSTALL", "portal-a", "tok-s3cret", 1))
        .await
        .unwrap();
    let store = SqliteTokenStore::open(p.store().clone(), "portal-a")
        .await
        .unwrap();
    let client = p.client("portal-a").await.unwrap();
    let texts = [
        format!("{p:?}"),
        format!("{store:?}"),
        format!("{:?}", p.application_tokens()),
        format!("{client:?}"),
        format!("{:?}", p.get("portal-a").await.unwrap()),
    ];
    for text in texts {
        assert!(!text.contains("s3cret"), "{text}");
    }
    let error = p
        .install_from_event(&event("ONAPPINSTALL", "portal-a", "forged-s3cret", 2))
        .await
        .unwrap_err();
    assert!(!error.to_string().contains("s3cret") && !format!("{error:?}").contains("s3cret"));
}

#[tokio::test]
async fn a_corrupt_token_row_is_an_error_without_its_content() {
    let f = fixture().await;
    let p = &f.portals;
    p.install_from_event(&event("ONAPPINSTALL", "portal-a", "tok-a", 1))
        .await
        .unwrap();
    sqlx::query("UPDATE portal_installations SET tokens = '{\"access_token\": 5, \"refresh_token\": \"RT-s3cret\"}'")
        .execute(p.store().pool())
        .await
        .unwrap();
    let reopened = Portals::new(p.store().clone(), OAuthApp::new("x", "y"));
    let error = reopened.client("portal-a").await.unwrap_err();
    assert!(
        matches!(error, PortalError::Store(StoreError::Corrupt(_))),
        "{error:?}"
    );
    assert!(!error.to_string().contains("s3cret"));
}

#[test]
fn the_install_url_is_under_the_base() {
    let base = Url::parse("https://connector.example/").unwrap();
    assert_eq!(
        install_url(&base).unwrap().as_str(),
        "https://connector.example/bitrix24/install"
    );
}
