//! The audit line parser (`*_audit.json`, one JSON object per line, dotted field names).
#![no_main]

use keydoctor::event::audit;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    if audit::looks_like_audit(&line) {
        let _ = audit::parse_line(&line, 1);
    }
    let _ = audit::parse_line(&line, 1);
});
