//! The SDK's public API as an application sees it: types are `Send`, `Sync`, `Clone`, and a
//! misconfigured client fails at build time with a clear message.

use std::future::IntoFuture;

use bitrix24::{Client, ErrorKind, Limits};

fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}

#[test]
fn client_is_shareable() {
    assert_send_sync_clone::<Client>();
}

#[test]
fn futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let client = Client::from_webhook("http://127.0.0.1:9/rest/1/secret/").unwrap();
    let call = client
        .call_raw::<serde_json::Value>("profile", ())
        .into_future();
    assert_send(&call);
}

#[test]
fn misconfiguration_is_reported_at_build() {
    let error = Client::builder().build().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    let error = Client::from_webhook("http://example.bitrix24.ru/rest/1/secret/").unwrap_err();
    assert!(error.to_string().contains("https"), "{error}");
    let error = Client::builder()
        .webhook("https://example.bitrix24.ru/rest/1/secret/")
        .limits(Limits::custom(0, 2.0))
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
}
