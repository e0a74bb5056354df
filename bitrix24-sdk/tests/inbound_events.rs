//! Inbound events: every documented event payload parses into its typed variant (from the
//! form Bitrix24 sends and from the docs' JSON), verification follows the trust rules, the
//! parser survives hostile input, and (features `axum` + `sandbox`) events POSTed by the
//! sandbox portal reach an axum route through the `VerifiedEvent` extractor.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_lines,
    clippy::doc_markdown
)]

use std::path::PathBuf;

use bitrix24::ErrorKind;
use bitrix24::auth::ApplicationToken;
use bitrix24::events::{
    ApplicationTokens, Event, EventData, KNOWN_EVENTS, MAX_DEPTH, MemoryApplicationTokens,
    Verified, parse_form,
};
use serde_json::{Value, json};

/// Where the docs' examples live: `BITRIX24_DOCS_FIXTURES`, else `../../shared/fixtures-docs`.
fn fixtures_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("BITRIX24_DOCS_FIXTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures-docs"),
        PathBuf::from,
    );
    dir.is_dir().then_some(dir)
}

/// Every `*.event.json` fixture: (file name, JSON).
fn event_fixtures() -> Option<Vec<(String, Value)>> {
    let Some(dir) = fixtures_dir() else {
        println!("skipped: no fixtures-docs directory (set BITRIX24_DOCS_FIXTURES)");
        return None;
    };
    let mut fixtures: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.ends_with(".event.json"))
        })
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            (name, serde_json::from_str(&text).unwrap())
        })
        .collect();
    fixtures.sort_by(|a, b| a.0.cmp(&b.0));
    Some(fixtures)
}

/// Writes `value` as PHP's `http_build_query` does (written independently of the SDK's own
/// `to_form`): nested keys in brackets, list indexes as keys, empty lists sending nothing.
fn php_pairs(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    let key = |k: &str| {
        if prefix.is_empty() {
            k.to_owned()
        } else {
            format!("{prefix}[{k}]")
        }
    };
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| php_pairs(&key(k), v, out)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| php_pairs(&key(&i.to_string()), v, out)),
        Value::String(text) => out.push((prefix.to_owned(), text.clone())),
        Value::Null => out.push((prefix.to_owned(), String::new())),
        Value::Bool(flag) => out.push((prefix.to_owned(), u8::from(*flag).to_string())),
        Value::Number(number) => out.push((prefix.to_owned(), number.to_string())),
    }
}

/// The body as Bitrix24 sends it: percent-encoded brackets, `+` for spaces.
fn encoded_form(value: &Value) -> String {
    let mut pairs = Vec::new();
    php_pairs("", value, &mut pairs);
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The same with brackets left raw (`data[FIELDS][ID]=7`), as people write them by hand.
fn raw_form(value: &Value) -> String {
    let mut pairs = Vec::new();
    php_pairs("", value, &mut pairs);
    pairs
        .iter()
        .map(|(k, v)| {
            let v: String = url::form_urlencoded::byte_serialize(v.as_bytes()).collect();
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[test]
fn every_documented_event_parses_into_its_typed_variant() {
    let Some(fixtures) = event_fixtures() else {
        return;
    };
    assert!(!fixtures.is_empty());
    let mut names = std::collections::BTreeSet::new();
    for (file, json) in &fixtures {
        let from_json = Event::from_value(json.clone()).unwrap();
        let from_form = Event::from_form(encoded_form(json).as_bytes()).unwrap();
        let from_raw = Event::from_form(raw_form(json).as_bytes()).unwrap();
        assert!(from_json.is_known(), "{file}: {:?}", from_json.data);
        assert!(from_form.is_known(), "{file}: {:?}", from_form.data);
        assert_eq!(from_json.data.event_name(), from_json.name, "{file}");
        assert!(KNOWN_EVENTS.contains(&from_json.name.as_str()), "{file}");
        // Numbers as strings, `[]` sent as nothing: the typed event is the same either way.
        assert_eq!(from_form, from_json, "{file}: form and JSON differ");
        assert_eq!(
            from_raw, from_form,
            "{file}: raw and encoded brackets differ"
        );
        assert!(from_json.ts.is_some(), "{file}: ts");
        assert!(
            from_json.application_token().is_some() && from_json.member_id().is_some(),
            "{file}: auth"
        );
        check_fixture(file, &from_form);
        names.insert(from_form.name.clone());
    }
    println!(
        "{} event fixtures ({} distinct events) parsed into typed variants, from form and JSON; \
         {} events typed in all",
        fixtures.len(),
        names.len(),
        KNOWN_EVENTS.len()
    );
}

/// What each documented payload must say once typed.
fn check_fixture(file: &str, event: &Event) {
    let auth = event.auth.as_ref().unwrap();
    match &event.data {
        EventData::AppInstall(data) => {
            assert_eq!(data.version.as_deref(), Some("1.0.0"));
            assert_eq!((data.active, data.installed), (Some(true), Some(true)));
            assert_eq!(data.language_id.as_deref(), Some("ru"));
            let tokens = auth.tokens().expect("install events carry tokens");
            assert_eq!(
                tokens.refresh_token.expose_secret(),
                "4s386p3q0tr8dy89xvmt96234v3dljg8"
            );
            assert_eq!(
                tokens.member_id.as_deref(),
                Some("a223c6b3710f85df22e9377d6c4f7553")
            );
            assert_eq!(
                tokens.client_endpoint.unwrap().as_str(),
                "https://some-domain.bitrix24.ru/rest/"
            );
            assert_eq!(auth.expires_in, Some(3600));
        }
        EventData::AppUpdate(data) => {
            assert_eq!(data.version.as_deref(), Some("2.1.0"));
            assert_eq!(data.previous_version.as_deref(), Some("2.0.3"));
            assert!(auth.tokens().is_some());
        }
        EventData::AppUninstall(data) => {
            assert_eq!(data.clean, Some(true));
            assert!(auth.access_token.is_none() && auth.tokens().is_none());
        }
        EventData::OfflineEvent(data) => {
            assert!(data.extra.is_empty());
            assert!(auth.refresh_token.is_some());
        }
        EventData::CrmDealAdd(data) => {
            assert_eq!(data.id(), Some(7405));
            if file.contains("outgoing-webhook") {
                assert!(
                    auth.access_token.is_none(),
                    "outgoing webhooks carry no tokens"
                );
                assert_eq!(event.handler_id, Some(975));
            } else {
                assert_eq!(event.handler_id, Some(185));
            }
        }
        EventData::CrmLeadAdd(data)
        | EventData::CrmLeadUpdate(data)
        | EventData::CrmLeadDelete(data) => {
            assert_eq!(data.id(), Some(1_000_983));
            assert!(event.handler_id.is_some());
        }
        EventData::CrmTimelineCommentAdd(data) => {
            assert_eq!(
                event.name, "ONCRMTIMELINECOMMENTADD",
                "mixed case upper-cased"
            );
            assert_eq!(data.id(), Some(999));
        }
        EventData::TaskAdd(data) => {
            assert_eq!(data.fields_before, None, "\"undefined\" is None");
            assert_eq!(data.task_id(), Some(123));
            assert_eq!(
                (data.is_accessible_before, data.is_accessible_after),
                (Some(false), None)
            );
        }
        EventData::TaskUpdate(data) => {
            assert_eq!(data.fields_before.as_ref().unwrap().id, Some(123));
            assert_eq!(data.task_id(), Some(123));
        }
        EventData::TaskDelete(data) => {
            assert_eq!(data.fields_after, None);
            assert_eq!(data.task_id(), Some(123), "from FIELDS_BEFORE");
        }
        EventData::TaskCommentAdd(data) => {
            assert_eq!((data.comment_id(), data.task_id()), (Some(123), Some(555)));
        }
        EventData::ImConnectorMessageAdd(data) => {
            assert_eq!(
                (data.connector.as_deref(), data.line),
                (Some("myconnector"), Some(107))
            );
            let message = &data.messages[0];
            let im = message.im.as_ref().unwrap();
            assert_eq!((im.chat_id, im.message_id), (Some(1807), Some(86497)));
            let body = message.message.as_ref().unwrap();
            assert_eq!(body.user_id, Some(27));
            assert!(body.text.as_deref().unwrap().ends_with("Добрый день!"));
            assert!(body.ids.is_empty());
            assert_eq!(
                message.chat.as_ref().unwrap().id.as_deref(),
                Some("channel-123")
            );
            assert_eq!(
                (auth.expires, auth.user_id),
                (Some(1_773_762_761), Some(27))
            );
            assert_eq!(auth.scopes(), ["imconnector", "imopenlines"]);
        }
        EventData::ImConnectorMessageUpdate(data) => {
            let body = data.messages[0].message.as_ref().unwrap();
            assert_eq!(body.ids, ["ext-msg-005"], "a list of external ids");
            assert!(body.text.is_some());
        }
        EventData::ImConnectorMessageDelete(data) => {
            let body = data.messages[0].message.as_ref().unwrap();
            assert_eq!(body.id(), Some("ext-msg-005"), "a single external id");
        }
        EventData::ImConnectorLineDelete(data) => assert_eq!(data.line, Some(107)),
        EventData::ImConnectorStatusDelete(data) => {
            assert_eq!(
                (data.connector.as_deref(), data.line),
                (Some("myconnector"), Some(107))
            );
        }
        EventData::ImConnectorDialogStart(data) | EventData::ImConnectorDialogFinish(data) => {
            assert_eq!(event.handler_id, Some(1), "eventId");
            assert_eq!(
                (data.connector.as_deref(), data.line),
                (Some("newcustomconnector"), Some(105))
            );
            let item = &data.items[0];
            let session = item.session.as_ref().unwrap();
            assert_eq!((session.id, session.close_term), (Some(3282), Some(10)));
            assert_eq!(
                session.closed,
                Some(matches!(event.data, EventData::ImConnectorDialogFinish(_)))
            );
            let connector = item.connector.as_ref().unwrap();
            assert_eq!(
                (connector.chat_id.as_deref(), connector.line_id),
                (Some("8"), Some(105))
            );
            assert_eq!(item.user.as_ref().unwrap().id, Some(0));
        }
        EventData::OpenLineMessageAdd(data) => {
            let item = &data.items[0];
            let message = item.message.as_ref().unwrap();
            assert_eq!(
                (message.id, message.text.as_deref()),
                (Some(80964), Some("hello"))
            );
            assert_eq!((message.system, message.user_id), (Some(false), Some(1985)));
            assert!(message.files.is_empty() && message.attach.is_none() && message.date.is_none());
            assert_eq!(item.chat.as_ref().unwrap().id, Some(10585));
            assert_eq!(
                item.connector.as_ref().unwrap().connector_id.as_deref(),
                Some("livechat")
            );
            assert!(item.reference.is_none());
            assert_eq!(item.extra_info.get("EXTRA_URL"), Some(&json!("")));
        }
        EventData::OpenLineMessageUpdate(data) | EventData::OpenLineMessageDelete(data) => {
            assert_eq!(data.line, Some(128));
            let item = &data.items[0];
            assert_eq!(item.im.as_ref().unwrap().message_id, Some(2056));
            assert_eq!(item.message.as_ref().unwrap().id, Some(2056));
        }
        EventData::SessionStart(data) | EventData::SessionFinish(data) => {
            let session = data.items[0].session.as_ref().unwrap();
            assert_eq!((session.id, session.close_term), (Some(42), Some(60)));
            assert_eq!(data.items[0].user.as_ref().unwrap().id, Some(1984));
        }
        other => panic!("{file}: no check for {other:?}"),
    }
}

#[test]
fn events_without_fixtures_are_typed_too() {
    let cases = [
        (
            "event=ONCRMCONTACTUPDATE&data[FIELDS][ID]=5",
            "ONCRMCONTACTUPDATE",
        ),
        (
            "event=ONCRMCOMPANYDELETE&data[FIELDS][ID]=5",
            "ONCRMCOMPANYDELETE",
        ),
        (
            "event=ONCRMDYNAMICITEMADD&data[FIELDS][ID]=5&data[FIELDS][ENTITY_TYPE_ID]=1032",
            "ONCRMDYNAMICITEMADD",
        ),
        (
            "event=ONUSERADD&data[ID]=9&data[ACTIVE]=Y&data[EMAIL]=a%40b.c&data[UF_DEPARTMENT][0]=1&data[UF_DEPARTMENT][1]=7&data[UF_SKYPE]=x",
            "ONUSERADD",
        ),
        (
            "event=ONUSERUPDATE&data[ID]=9&data[ACTIVE]=N",
            "ONUSERUPDATE",
        ),
        (
            "event=ONAPPTEST&data[QUERY][any]=data&data[LANGUAGE_ID]=en",
            "ONAPPTEST",
        ),
        (
            "event=ONTASKCOMMENTUPDATE&data[FIELDS_BEFORE][ID]=3&data[FIELDS_AFTER][ID]=3&data[FIELDS_AFTER][TASK_ID]=1&data[FIELDS_AFTER][ACTION]=EDIT",
            "ONTASKCOMMENTUPDATE",
        ),
        ("event=ONOFFLINEEVENT", "ONOFFLINEEVENT"),
    ];
    for (body, name) in cases {
        let event = Event::from_form(body.as_bytes()).unwrap();
        assert!(event.is_known(), "{body}: {:?}", event.data);
        assert_eq!(event.name, name);
        match &event.data {
            EventData::CrmDynamicItemAdd(data) => {
                assert_eq!(data.fields.entity_type_id, Some(1032));
            }
            EventData::UserAdd(data) => {
                assert_eq!((data.id, data.active), (Some(9), Some(true)));
                assert_eq!(data.email.as_deref(), Some("a@b.c"));
                assert_eq!(data.departments, [1, 7]);
                assert_eq!(data.extra.get("UF_SKYPE"), Some(&json!("x")));
            }
            EventData::AppTest(data) => assert_eq!(data.query.get("any"), Some(&json!("data"))),
            EventData::TaskCommentUpdate(data) => {
                let after = data.fields_after.as_ref().unwrap();
                assert_eq!(after.action.as_deref(), Some("EDIT"));
                assert_eq!(data.task_id(), Some(1));
            }
            _ => {}
        }
    }
}

#[test]
fn the_parser_builds_php_trees() {
    let tree = parse_form(
        b"event=ONIMCONNECTORMESSAGEUPDATE&data%5BMESSAGES%5D%5B0%5D%5Bmessage%5D%5Bid%5D%5B0%5D=m%2B1\
          &data[MESSAGES][0][chat][id]=c+1&list[]=a&list[]=b&map[2]=x&map[]=y",
    )
    .unwrap();
    assert_eq!(
        tree,
        json!({
            "event": "ONIMCONNECTORMESSAGEUPDATE",
            "data": { "MESSAGES": [{ "message": { "id": ["m+1"] }, "chat": { "id": "c 1" } }] },
            "list": ["a", "b"],
            "map": { "2": "x", "3": "y" },
        })
    );
    let scalar = Event::from_form(
        b"event=ONIMCONNECTORLINEDELETE&data=107&event_handler_id=563&ts=1773761165",
    )
    .unwrap();
    assert_eq!(
        (scalar.handler_id, scalar.ts),
        (Some(563), Some(1_773_761_165))
    );
    let too_deep = format!("event=X&data{}=1", "[a]".repeat(MAX_DEPTH + 1));
    let error = Event::from_form(too_deep.as_bytes()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Decode);
}

fn event(name: &str, member: &str, token: &str) -> Event {
    Event::from_form(
        format!("event={name}&data[FIELDS][ID]=1&auth[member_id]={member}&auth[application_token]={token}")
            .as_bytes(),
    )
    .unwrap()
}

#[tokio::test]
async fn verification_follows_the_trust_rules() {
    let store = MemoryApplicationTokens::new();
    let secret = "0123456789abcdef-secret";
    // Nothing is known yet: only an install is taken.
    let error = event("ONCRMLEADADD", "m1", secret)
        .verify(&store)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Auth);
    assert!(
        error.to_string().contains("no application_token is stored"),
        "{error}"
    );
    assert_eq!(
        event("ONAPPINSTALL", "m1", secret)
            .verify(&store)
            .await
            .unwrap(),
        Verified::Installed
    );
    assert_eq!(store.get("m1").await.unwrap().expose_secret(), secret);
    assert_eq!(
        event("ONAPPINSTALL", "m1", secret)
            .verify(&store)
            .await
            .unwrap(),
        Verified::Reinstalled
    );
    // A second install with another token cannot be told from a forgery.
    let error = event("ONAPPINSTALL", "m1", "forged-token-value")
        .verify(&store)
        .await
        .unwrap_err();
    assert!(error.is_auth() && error.to_string().contains("different application_token"));
    assert_eq!(
        store.get("m1").await.unwrap().expose_secret(),
        secret,
        "not replaced"
    );

    assert_eq!(
        event("ONCRMLEADADD", "m1", secret)
            .verify(&store)
            .await
            .unwrap(),
        Verified::Matched
    );
    for (member, token) in [("m1", "forged-token-value"), ("m1", ""), ("m2", secret)] {
        let error = event("ONCRMLEADADD", member, token)
            .verify(&store)
            .await
            .unwrap_err();
        assert!(error.is_auth());
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(
                !text.contains(secret) && !text.contains("forged-token-value"),
                "{text}"
            );
        }
    }
    let no_auth = Event::from_form(b"event=ONCRMLEADADD&data[FIELDS][ID]=1").unwrap();
    assert!(
        no_auth
            .verify(&store)
            .await
            .unwrap_err()
            .to_string()
            .contains("no auth block")
    );
    let no_member = Event::from_form(b"event=ONCRMLEADADD&auth[application_token]=x").unwrap();
    assert!(
        no_member
            .verify(&store)
            .await
            .unwrap_err()
            .to_string()
            .contains("member_id")
    );

    // Updates must match, uninstalls must match before the token is removed.
    assert!(
        event("ONAPPUPDATE", "m1", "forged-token-value")
            .verify(&store)
            .await
            .is_err()
    );
    assert_eq!(
        event("ONAPPUPDATE", "m1", secret)
            .verify(&store)
            .await
            .unwrap(),
        Verified::Updated
    );
    assert!(
        event("ONAPPUNINSTALL", "m1", "forged-token-value")
            .verify(&store)
            .await
            .is_err()
    );
    assert_eq!(store.len(), 1, "a forged uninstall removes nothing");
    assert_eq!(
        event("ONAPPUNINSTALL", "m1", secret)
            .verify(&store)
            .await
            .unwrap(),
        Verified::Uninstalled
    );
    assert!(store.is_empty());
    assert!(
        event("ONCRMLEADADD", "m1", secret)
            .verify(&store)
            .await
            .is_err()
    );
    // After an uninstall, a fresh install (with a new token) is a first install again.
    assert_eq!(
        event("ONAPPINSTALL", "m1", "new-token")
            .verify(&store)
            .await
            .unwrap(),
        Verified::Installed
    );

    // Outgoing webhooks: a fixed token.
    let fixed = ApplicationToken::new("jvh9y1ulvt2m6k5or90v9mg8nn32ozas");
    assert!(
        event("ONCRMDEALADD", "m9", fixed.expose_secret())
            .verify_outgoing(&fixed)
            .is_ok()
    );
    let error = event("ONCRMDEALADD", "m9", "jvh9y1ulvt2m6k5or90v9mg8nn32ozaX")
        .verify_outgoing(&fixed)
        .unwrap_err();
    assert!(
        error.is_auth() && !error.to_string().contains("jvh9y1"),
        "{error}"
    );
}

#[tokio::test]
async fn concurrent_first_installs_register_one_token() {
    let store = std::sync::Arc::new(MemoryApplicationTokens::new());
    let mut tasks = Vec::new();
    for n in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            event("ONAPPINSTALL", "m1", &format!("token-{}", n % 2))
                .verify(&*store)
                .await
        }));
    }
    let mut installed = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(Verified::Installed) => installed += 1,
            Ok(Verified::Reinstalled) => {}
            Ok(other) => panic!("{other:?}"),
            Err(_) => refused += 1,
        }
    }
    assert_eq!(installed, 1, "exactly one install registers a token");
    assert_eq!(refused, 8, "the other token is refused every time");
}

/// A deterministic stand-in for the fuzzer that runs in every `cargo test`: 200,000 bodies,
/// random and mutated from the fixtures, through the parser; none may panic, and every
/// accepted tree must be well formed.
#[test]
fn the_parser_survives_200k_hostile_bodies() {
    let mut seeds: Vec<Vec<u8>> = event_fixtures()
        .unwrap_or_default()
        .iter()
        .flat_map(|(_, json)| [encoded_form(json).into_bytes(), raw_form(json).into_bytes()])
        .collect();
    seeds.push(
        b"event=ONCRMLEADADD&data[FIELDS][ID]=1&auth[member_id]=m&auth[application_token]=t"
            .to_vec(),
    );
    seeds.push(b"a[]=1&a[][b]=2&a[5]=x&a[]=y&c[d[e]=1&f]g=2&%5B=%".to_vec());
    let alphabet: &[u8] = b"[]%&=+05AFaz.-_ \xff\x00\xd0\x91";
    let mut rng = fastrand::Rng::with_seed(0x00b1_7e24);
    let (mut accepted, mut refused, mut typed) = (0u32, 0u32, 0u32);
    for round in 0..200_000u32 {
        let body: Vec<u8> = if round % 4 == 0 {
            // Pure noise, mostly from the characters that matter to the parser.
            let len = rng.usize(0..300);
            (0..len)
                .map(|_| {
                    if rng.bool() {
                        alphabet[rng.usize(..alphabet.len())]
                    } else {
                        rng.u8(..)
                    }
                })
                .collect()
        } else {
            let mut body = seeds[rng.usize(..seeds.len())].clone();
            for _ in 0..rng.usize(1..8) {
                mutate(&mut rng, &mut body, &seeds, alphabet);
            }
            body
        };
        match parse_form(&body) {
            Ok(tree) => {
                accepted += 1;
                assert!(tree.is_object());
                assert!(depth(&tree) <= MAX_DEPTH + 1, "round {round}");
                // `from_form` is `parse_form` then `from_value`: skip parsing twice.
                if let Ok(event) = Event::from_value(tree) {
                    typed += u32::from(event.is_known());
                    let _ = format!("{event:?}");
                    if let Some(auth) = &event.auth {
                        let _ = auth.tokens();
                    }
                }
            }
            Err(error) => {
                refused += 1;
                assert_eq!(error.kind(), ErrorKind::Decode);
                assert!(Event::from_form(&body).is_err());
            }
        }
    }
    println!(
        "200000 hostile bodies: {accepted} parsed, {refused} refused by limits, {typed} typed events"
    );
    assert!(
        accepted > 100_000 && typed > 10_000,
        "the mutations still reach the typed decoder"
    );
}

fn mutate(rng: &mut fastrand::Rng, body: &mut Vec<u8>, seeds: &[Vec<u8>], alphabet: &[u8]) {
    let at = |rng: &mut fastrand::Rng, body: &Vec<u8>| rng.usize(..=body.len());
    match rng.u8(..7) {
        0 if !body.is_empty() => {
            let i = rng.usize(..body.len());
            body[i] = alphabet[rng.usize(..alphabet.len())];
        }
        1 => {
            let i = at(rng, body);
            body.insert(i, alphabet[rng.usize(..alphabet.len())]);
        }
        2 if !body.is_empty() => {
            let i = rng.usize(..body.len());
            let end = (i + rng.usize(1..40)).min(body.len());
            body.drain(i..end);
        }
        3 if !body.is_empty() => {
            let i = rng.usize(..body.len());
            let end = (i + rng.usize(1..60)).min(body.len());
            let copy = body[i..end].to_vec();
            let j = at(rng, body);
            body.splice(j..j, copy);
        }
        4 => {
            let other = &seeds[rng.usize(..seeds.len())];
            let j = at(rng, body);
            let cut = rng.usize(..=other.len());
            body.splice(j..j, other[cut..].iter().copied());
        }
        5 => {
            let i = at(rng, body);
            let deep = b"[x]".repeat(rng.usize(1..40));
            body.splice(i..i, deep);
        }
        _ => {
            let i = at(rng, body);
            body.splice(i..i, *b"[]");
        }
    }
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(feature = "axum")]
mod extractor {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::extract::FromRequest;
    use axum::http::{Request, StatusCode, header};
    use axum::response::IntoResponse;
    use bitrix24::auth::ApplicationToken;
    use bitrix24::events::axum::{EventRejection, VerifiedEvent, VerifiedEventBody};
    use bitrix24::events::{EventData, EventVerifier, MemoryApplicationTokens, Verified};

    const LEAD: &str = "event=ONCRMLEADADD&data%5BFIELDS%5D%5BID%5D=7&auth%5Bmember_id%5D=m1&auth%5Bapplication_token%5D=good-token";

    fn request(content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
        let mut builder = Request::builder().method("POST").uri("/events");
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        builder.body(body.into()).unwrap()
    }

    fn verifier() -> EventVerifier {
        EventVerifier::new(
            MemoryApplicationTokens::new().with_token("m1", ApplicationToken::new("good-token")),
        )
    }

    async fn refusal(verifier: &EventVerifier, request: Request<Body>) -> EventRejection {
        VerifiedEvent::from_request(request, verifier)
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn accepts_verified_forms_and_json() {
        let verifier = verifier();
        let VerifiedEvent(event) = VerifiedEvent::from_request(
            request(
                Some("application/x-www-form-urlencoded; charset=utf-8"),
                LEAD,
            ),
            &verifier,
        )
        .await
        .unwrap();
        let EventData::CrmLeadAdd(lead) = &event.data else {
            panic!("{event:?}")
        };
        assert_eq!(lead.id(), Some(7));
        // No content type: a form, as Bitrix24 always sends.
        let with_body = VerifiedEventBody::from_request(request(None, LEAD), &verifier)
            .await
            .unwrap();
        assert_eq!(with_body.verified, Verified::Matched);
        assert_eq!(&with_body.body[..], LEAD.as_bytes());
        let json = r#"{"event":"ONCRMLEADADD","data":{"FIELDS":{"ID":7}},"auth":{"member_id":"m1","application_token":"good-token"}}"#;
        let from_json =
            VerifiedEventBody::from_request(request(Some("application/json"), json), &verifier)
                .await
                .unwrap();
        assert!(from_json.json);
        assert_eq!(from_json.event, event);
    }

    #[tokio::test]
    async fn refuses_with_the_right_status_and_a_plain_reason() {
        let verifier = verifier();
        let forged = LEAD.replace("good-token", "bad-token");
        let cases = [
            (
                request(None, forged),
                StatusCode::UNAUTHORIZED,
                "does not match",
            ),
            (
                request(None, LEAD.replace("m1", "m2")),
                StatusCode::UNAUTHORIZED,
                "no application_token is stored",
            ),
            (
                request(None, "data[FIELDS][ID]=7"),
                StatusCode::BAD_REQUEST,
                "no `event` name",
            ),
            (
                request(Some("application/json"), "{nope"),
                StatusCode::BAD_REQUEST,
                "not JSON",
            ),
            (
                request(Some("text/plain"), LEAD),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "x-www-form-urlencoded",
            ),
            (
                request(
                    None,
                    format!(
                        "event=X&a={}",
                        "x".repeat(EventVerifier::DEFAULT_BODY_LIMIT)
                    ),
                ),
                StatusCode::PAYLOAD_TOO_LARGE,
                "1048576 bytes",
            ),
            (
                request(None, format!("event=X&a{}=1", "[a]".repeat(40))),
                StatusCode::BAD_REQUEST,
                "deeper than 32",
            ),
        ];
        for (request, status, reason) in cases {
            let rejection = refusal(&verifier, request).await;
            assert_eq!(rejection.status(), status, "{rejection}");
            assert!(rejection.message().contains(reason), "{rejection}");
            let response = rejection.into_response();
            assert_eq!(response.status(), status);
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                "text/plain; charset=utf-8"
            );
            let body = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .unwrap();
            let text = String::from_utf8(body.to_vec()).unwrap();
            assert!(
                text.contains(reason)
                    && !text.contains("bad-token")
                    && !text.contains("good-token"),
                "{text}"
            );
        }
        let small = verifier.clone().with_body_limit(10);
        assert_eq!(
            refusal(&small, request(None, LEAD)).await.status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }

    #[tokio::test]
    async fn outgoing_tokens_and_stores_combine() {
        let fixed = ApplicationToken::new("fixed-webhook-token");
        let outgoing_only = EventVerifier::outgoing(fixed.clone());
        let hook = LEAD.replace("good-token", "fixed-webhook-token");
        let accepted = VerifiedEventBody::from_request(request(None, hook.clone()), &outgoing_only)
            .await
            .unwrap();
        assert_eq!(accepted.verified, Verified::Outgoing);
        assert_eq!(
            refusal(&outgoing_only, request(None, LEAD)).await.status(),
            StatusCode::UNAUTHORIZED
        );
        let both = verifier().with_outgoing(fixed);
        for body in [LEAD.to_owned(), hook] {
            assert!(
                VerifiedEvent::from_request(request(None, body), &both)
                    .await
                    .is_ok()
            );
        }
        let shared: Arc<dyn bitrix24::events::ApplicationTokens> =
            Arc::new(MemoryApplicationTokens::new());
        let from_shared = EventVerifier::from_shared(shared);
        assert!(from_shared.store().is_some());
        assert!(format!("{from_shared:?}").contains("body_limit"));
    }
}

#[cfg(all(feature = "axum", feature = "sandbox"))]
mod end_to_end {
    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::post;
    use bitrix24::auth::MemoryTokenStore;
    use bitrix24::events::axum::VerifiedEventBody;
    use bitrix24::events::{
        ApplicationTokens, Event, EventData, EventVerifier, MemoryApplicationTokens, Verified,
    };
    use bitrix24::sandbox::SandboxPortal;
    use bitrix24::{Client, Limits, RetryPolicy};
    use serde_json::{Value, json};

    type Seen = Arc<Mutex<Vec<(String, Event, Verified)>>>;

    /// An axum server on loopback: `/app` verifies against `store`, `/hook` against the
    /// outgoing webhook's token once it is known. Returns the base URL and what arrived.
    async fn server(
        store: Arc<MemoryApplicationTokens>,
        hook_token: Arc<Mutex<Option<bitrix24::auth::ApplicationToken>>>,
    ) -> (String, Seen) {
        let seen: Seen = Arc::default();
        let record = |route: &'static str, seen: Seen| {
            move |verified: VerifiedEventBody| {
                let seen = seen.clone();
                async move {
                    // A real handler writes to durable storage here, then answers at once.
                    seen.lock().unwrap().push((
                        route.to_owned(),
                        verified.event,
                        verified.verified,
                    ));
                    StatusCode::OK
                }
            }
        };
        let app = Router::new()
            .route("/app", post(record("app", seen.clone())))
            .with_state(EventVerifier::from_shared(store));
        // The webhook's token is only known after the webhook is created; build the
        // verifier per request from the shared slot.
        let hook_seen = seen.clone();
        let hook = Router::new().route(
            "/hook",
            post(move |request: axum::extract::Request| {
                let seen = hook_seen.clone();
                let token = hook_token.lock().unwrap().clone();
                async move {
                    use axum::extract::FromRequest;
                    use axum::response::IntoResponse;
                    let Some(token) = token else {
                        return StatusCode::SERVICE_UNAVAILABLE.into_response();
                    };
                    match VerifiedEventBody::from_request(request, &EventVerifier::outgoing(token))
                        .await
                    {
                        Ok(verified) => {
                            seen.lock().unwrap().push((
                                "hook".into(),
                                verified.event,
                                verified.verified,
                            ));
                            StatusCode::OK.into_response()
                        }
                        Err(rejection) => rejection.into_response(),
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app.merge(hook)).await.unwrap() });
        (format!("http://{addr}"), seen)
    }

    async fn arrival(seen: &Seen, route: &str, name: &str) -> (Event, Verified) {
        for _ in 0..250 {
            if let Some((_, event, verified)) = seen
                .lock()
                .unwrap()
                .iter()
                .find(|(r, e, _)| r == route && e.name == name)
            {
                return (event.clone(), *verified);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let got: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .map(|(r, e, _)| format!("{r}:{}", e.name))
            .collect();
        panic!("{name} never reached /{route}; got {got:?}");
    }

    async fn call(client: &Client, method: &str, params: Value) -> Value {
        client
            .call_raw::<Value>(method, params)
            .await
            .unwrap_or_else(|error| panic!("{method}: {error}"))
    }

    fn webhook(portal: &SandboxPortal) -> Client {
        Client::builder()
            .webhook(portal.webhook_url())
            .limits(Limits::unlimited())
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn sandbox_events_reach_an_axum_route_verified_and_typed() {
        let portal = SandboxPortal::builder()
            .limits(Limits::unlimited())
            .start()
            .await
            .unwrap();
        let store = Arc::new(MemoryApplicationTokens::new());
        let hook_token = Arc::new(Mutex::new(None));
        let (base, seen) = server(store.clone(), hook_token.clone()).await;
        let app_url = format!("{base}/app");
        let hook_url = format!("{base}/hook");
        let hook = webhook(&portal);

        // Before the install, the app's events are refused: the portal is unknown.
        let early = portal.app_client().unwrap();
        call(
            &early,
            "event.bind",
            json!({ "event": "ONCRMDEALADD", "handler": app_url }),
        )
        .await;
        call(
            &hook,
            "crm.deal.add",
            json!({ "fields": { "TITLE": "Too early" } }),
        )
        .await;
        let mut refused = None;
        for _ in 0..150 {
            refused = portal
                .deliveries()
                .into_iter()
                .find(|d| d.event == "ONCRMDEALADD");
            if refused.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            refused.unwrap().status,
            Some(401),
            "unknown portal: refused"
        );

        // The install registers the application token; its tokens work.
        portal.install_app_to(&app_url).await.unwrap();
        let (install, verified) = arrival(&seen, "app", "ONAPPINSTALL").await;
        assert_eq!(verified, Verified::Installed);
        assert!(matches!(install.data, EventData::AppInstall(_)));
        assert_eq!(install.member_id(), Some(portal.member_id()));
        assert_eq!(
            store.get(portal.member_id()).await,
            Some(portal.application_token())
        );
        let tokens = install.auth.as_ref().unwrap().tokens().unwrap();
        let app = portal
            .oauth_client(tokens, MemoryTokenStore::new())
            .unwrap();
        // A forged install for the same portal is refused; a repeated one is fine.
        let forged_install = format!(
            "event=ONAPPINSTALL&auth[member_id]={}&auth[application_token]=forged",
            portal.member_id()
        );
        let reply = reqwest::Client::new()
            .post(&app_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(forged_install)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 401);
        let text = reply.text().await.unwrap();
        assert!(text.contains("different application_token"), "{text}");

        // Outgoing webhook: a fixed token of its own.
        let token = portal.add_outgoing_webhook("ONCRMLEADADD", &hook_url);
        *hook_token.lock().unwrap() = Some(token.clone());

        // Bind (almost) everything the app can hear to /app.
        let events = [
            "ONAPPTEST",
            "ONCRMLEADADD",
            "ONCRMLEADUPDATE",
            "ONCRMLEADDELETE",
            "ONCRMCONTACTADD",
            "ONCRMCOMPANYADD",
            "ONCRMTIMELINECOMMENTADD",
            "ONTASKADD",
            "ONTASKUPDATE",
            "ONTASKCOMMENTADD",
            "ONUSERADD",
            "ONIMCONNECTORMESSAGEADD",
            "ONIMCONNECTORMESSAGEUPDATE",
            "ONIMCONNECTORMESSAGEDELETE",
            "ONIMCONNECTORDIALOGSTART",
            "ONIMCONNECTORDIALOGFINISH",
            "ONIMCONNECTORSTATUSDELETE",
            "ONIMCONNECTORLINEDELETE",
            "ONOPENLINEMESSAGEADD",
            "ONSESSIONSTART",
            "ONSESSIONFINISH",
        ];
        for event in events {
            call(
                &app,
                "event.bind",
                json!({ "event": event, "handler": app_url }),
            )
            .await;
        }

        // CRM, through the webhook client.
        let lead: u64 = hook
            .call_raw(
                "crm.lead.add",
                json!({ "fields": { "TITLE": "From the site" } }),
            )
            .await
            .unwrap();
        let (from_hook, verified) = arrival(&seen, "hook", "ONCRMLEADADD").await;
        assert_eq!(verified, Verified::Outgoing);
        let EventData::CrmLeadAdd(data) = &from_hook.data else {
            panic!("{from_hook:?}")
        };
        assert_eq!(data.id(), Some(lead));
        assert!(from_hook.auth.as_ref().unwrap().access_token.is_none());
        let (from_app, _) = arrival(&seen, "app", "ONCRMLEADADD").await;
        assert!(from_app.auth.as_ref().unwrap().tokens().is_some());
        call(
            &hook,
            "crm.lead.update",
            json!({ "id": lead, "fields": { "TITLE": "Changed" } }),
        )
        .await;
        call(&hook, "crm.timeline.comment.add", json!({ "fields": { "ENTITY_ID": lead, "ENTITY_TYPE": "lead", "COMMENT": "Called back" } })).await;
        call(&hook, "crm.lead.delete", json!({ "id": lead })).await;
        call(
            &hook,
            "crm.contact.add",
            json!({ "fields": { "NAME": "Ivan" } }),
        )
        .await;
        call(
            &hook,
            "crm.company.add",
            json!({ "fields": { "TITLE": "Acme" } }),
        )
        .await;

        // Tasks, users and event.test.
        let task = call(
            &hook,
            "tasks.task.add",
            json!({ "fields": { "TITLE": "Evented", "RESPONSIBLE_ID": 1 } }),
        )
        .await;
        let task_id = task["task"]["id"].as_str().map_or_else(
            || task["task"]["id"].as_u64().unwrap(),
            |id| id.parse().unwrap(),
        );
        call(
            &hook,
            "tasks.task.update",
            json!({ "taskId": task_id, "fields": { "TITLE": "Evented again" } }),
        )
        .await;
        call(
            &hook,
            "task.commentitem.add",
            json!({ "TASKID": task_id, "FIELDS": { "POST_MESSAGE": "Done?" } }),
        )
        .await;
        call(
            &hook,
            "user.add",
            json!({ "EMAIL": "new.user@example.com", "NAME": "New", "UF_DEPARTMENT": [1] }),
        )
        .await;
        call(&app, "event.test", json!({ "any": "data" })).await;

        // A custom connector: a customer writes, an operator answers, edits, deletes.
        call(&app, "imconnector.register", json!({
            "ID": "myconn", "NAME": "My connector",
            "ICON": { "DATA_IMAGE": "data:image/svg+xml,%3Csvg%20xmlns%3D%22http://www.w3.org/2000/svg%22/%3E" },
            "PLACEMENT_HANDLER": "https://example.com/connector/settings",
        })).await;
        call(
            &app,
            "imconnector.activate",
            json!({ "CONNECTOR": "myconn", "LINE": 1, "ACTIVE": 1 }),
        )
        .await;
        call(&app, "imconnector.connector.data.set", json!({ "CONNECTOR": "myconn", "LINE": 1, "DATA": { "ID": "channel-1", "URL": "https://example.com/c/1", "NAME": "Support" } })).await;
        let sent = call(
            &app,
            "imconnector.send.messages",
            json!({ "CONNECTOR": "myconn", "LINE": 1, "MESSAGES": [{
            "user": { "id": "u7", "name": "Ivan" },
            "message": { "id": "m1", "date": 1_773_265_993, "text": "Where is my order?" },
            "chat": { "id": "tg-7" },
        }] }),
        )
        .await;
        let chat_id = sent["DATA"]["RESULT"][0]["session"]["CHAT_ID"]
            .as_str()
            .unwrap()
            .to_owned();
        let files = [(
            "invoice.pdf".to_owned(),
            "https://example.com/invoice.pdf".to_owned(),
        )];
        let message_id = portal
            .operator_reply("tg-7", "On its way", &files)
            .await
            .unwrap();
        call(&app, "imconnector.send.status.delivery", json!({ "CONNECTOR": "myconn", "LINE": 1, "MESSAGES": [{
            "im": { "chat_id": chat_id, "message_id": message_id }, "message": { "id": ["tg-msg-99"] }, "chat": { "id": "tg-7" },
        }] })).await;
        portal
            .operator_edit(message_id, "Delivered tomorrow")
            .await
            .unwrap();
        portal.operator_delete(message_id).await.unwrap();
        call(
            &hook,
            "imopenlines.operator.finish",
            json!({ "CHAT_ID": chat_id }),
        )
        .await;
        call(
            &app,
            "imconnector.activate",
            json!({ "CONNECTOR": "myconn", "LINE": 1, "ACTIVE": 0 }),
        )
        .await;
        call(
            &app,
            "imconnector.activate",
            json!({ "CONNECTOR": "myconn", "LINE": 1, "ACTIVE": 1 }),
        )
        .await;
        call(
            &hook,
            "imopenlines.config.delete",
            json!({ "CONFIG_ID": 1 }),
        )
        .await;

        for event in events {
            let (received, verified) = arrival(&seen, "app", event).await;
            assert_eq!(verified, Verified::Matched, "{event}");
            assert!(received.is_known(), "{event}: {:?}", received.data);
            assert!(
                received.handler_id.is_some() && received.ts.is_some(),
                "{event}"
            );
        }
        let check = |name: &str| {
            seen.lock()
                .unwrap()
                .iter()
                .find(|(r, e, _)| r == "app" && e.name == name)
                .map(|(_, e, _)| e.data.clone())
                .unwrap()
        };
        let EventData::TaskAdd(task) = check("ONTASKADD") else {
            panic!()
        };
        assert_eq!(task.task_id(), Some(task_id));
        let EventData::AppTest(app_test) = check("ONAPPTEST") else {
            panic!()
        };
        assert_eq!(app_test.query.get("any"), Some(&json!("data")));
        let EventData::UserAdd(user) = check("ONUSERADD") else {
            panic!()
        };
        assert_eq!(user.email.as_deref(), Some("new.user@example.com"));
        let EventData::ImConnectorMessageAdd(add) = check("ONIMCONNECTORMESSAGEADD") else {
            panic!()
        };
        let body = add.messages[0].message.as_ref().unwrap();
        assert_eq!(body.files[0].name.as_deref(), Some("invoice.pdf"));
        assert_eq!(
            add.messages[0].im.as_ref().unwrap().message_id,
            Some(message_id)
        );
        let EventData::ImConnectorMessageUpdate(update) = check("ONIMCONNECTORMESSAGEUPDATE")
        else {
            panic!()
        };
        assert_eq!(
            update.messages[0].message.as_ref().unwrap().ids,
            ["tg-msg-99"]
        );
        let EventData::ImConnectorMessageDelete(delete) = check("ONIMCONNECTORMESSAGEDELETE")
        else {
            panic!()
        };
        assert_eq!(
            delete.messages[0].message.as_ref().unwrap().id(),
            Some("tg-msg-99")
        );
        let EventData::ImConnectorLineDelete(line) = check("ONIMCONNECTORLINEDELETE") else {
            panic!()
        };
        assert_eq!(line.line, Some(1));
        let EventData::ImConnectorStatusDelete(status) = check("ONIMCONNECTORSTATUSDELETE") else {
            panic!()
        };
        assert_eq!(
            (status.connector.as_deref(), status.line),
            (Some("myconn"), Some(1))
        );
        let EventData::ImConnectorDialogStart(start) = check("ONIMCONNECTORDIALOGSTART") else {
            panic!()
        };
        assert_eq!(
            start.items[0]
                .connector
                .as_ref()
                .unwrap()
                .chat_id
                .as_deref(),
            Some("tg-7")
        );
        assert_eq!(
            start.items[0]
                .chat
                .as_ref()
                .unwrap()
                .id
                .map(|id| id.to_string()),
            Some(chat_id.clone())
        );

        // Every delivery to a verified route was answered 200, apart from the refused ones.
        let statuses: BTreeSet<(String, Option<u16>)> = portal
            .deliveries()
            .into_iter()
            .map(|d| (d.event, d.status))
            .collect();
        for (event, status) in &statuses {
            if event == "ONCRMDEALADD" {
                continue;
            }
            assert_eq!(*status, Some(200), "{event}");
        }

        // A forged event for a known portal, and an app token sent to the webhook route.
        let forged = format!(
            "event=ONCRMLEADDELETE&data[FIELDS][ID]=1&auth[member_id]={}&auth[application_token]=guessed",
            portal.member_id()
        );
        let http = reqwest::Client::new();
        let post = |url: String, body: String| {
            let http = http.clone();
            async move {
                let reply = http
                    .post(url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                (reply.status().as_u16(), reply.text().await.unwrap())
            }
        };
        let (status, text) = post(app_url.clone(), forged).await;
        assert_eq!(status, 401, "{text}");
        assert!(!text.contains("guessed"));
        let with_app_token = format!(
            "event=ONCRMLEADADD&data[FIELDS][ID]=1&auth[member_id]={}&auth[application_token]={}",
            portal.member_id(),
            portal.application_token().expose_secret()
        );
        assert_eq!(post(hook_url.clone(), with_app_token.clone()).await.0, 401);
        assert_eq!(post(app_url.clone(), with_app_token).await.0, 200);
        assert_eq!(post(app_url.clone(), "garbage".to_owned()).await.0, 400);
        let received = seen.lock().unwrap().len();
        println!("end to end: {received} sandbox and hand-made events verified at the axum routes");
    }
}
