//! Pasted text → meeting link: never panics; whatever parses formats back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parley_proto::MeetingLink;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(link) = MeetingLink::parse(text)
    {
        let again = MeetingLink::parse(&link.to_string()).expect("a formatted link parses");
        assert_eq!(again, link);
    }
});
