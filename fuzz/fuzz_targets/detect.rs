//! The input detectors: format sniffing, record splitting, record kinds and tags.
#![no_main]

use keydoctor::event;
use keydoctor::source::{sniff, Input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sniff::sniff(data);
    let doc = event::parse_input(&Input {
        name: "fuzz".into(),
        text: String::from_utf8_lossy(data).into_owned(),
    });
    let scope = doc.tag_scope();
    for (idx, record) in doc.records.iter().enumerate() {
        assert!(record.range.end <= doc.text.len());
        assert!(record.map.to_raw(record.norm.len()) <= doc.text.len());
        let _ = (record.kind(), scope.for_record(idx));
    }
});
