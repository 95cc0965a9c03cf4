//! A WebSocket text frame → client message: never panics; what decodes re-encodes stably.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley_proto::ClientMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(msg) = ClientMessage::decode(text)
    {
        let again = ClientMessage::decode(&msg.encode()).expect("an encoded message decodes");
        assert_eq!(again, msg);
    }
});
