//! The JSON error extractor: unescaping at any depth, then the fields of every record (status,
//! type, reason, key id, action, index), and the rules' matches with their spans.
#![no_main]

use keydoctor::event;
use keydoctor::source::Input;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let doc = event::parse_input(&Input {
        name: "fuzz".into(),
        text: String::from_utf8_lossy(data).into_owned(),
    });
    for record in &doc.records {
        let _ = record.fields();
    }
    let (set, _) = keydoctor::rule::load(None).expect("the bundled rules load");
    for m in set.match_document(&doc) {
        let record = &doc.records[m.record];
        assert!(record.map.to_raw(m.span.end) <= doc.text.len());
    }
});
