//! Feeds arbitrary bytes to the inbound-event parser: it must never panic, whatever arrives.
#![no_main]

use bitrix24::events::{Event, parse_form};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let tree = parse_form(body);
    let event = Event::from_form(body);
    // Both read the same tree, so they fail or succeed together on the parser's limits.
    if tree.is_err() {
        assert!(event.is_err());
    }
    if let Ok(event) = event {
        // Every part of an event must be usable without panicking.
        let _ = format!("{event:?}");
        let _ = event.data.event_name();
        if let Some(auth) = &event.auth {
            let _ = auth.tokens();
            let _ = auth.scopes();
        }
        let _ = Event::from_json(body);
    }
});
