//! The rule loader: any text as a rule file is compiled or rejected with problems whose spans
//! lie inside it.
#![no_main]

use keydoctor::rule::compile::{compile_sources, RuleSource};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let source = RuleSource {
        label: "fuzz.toml".into(),
        relative: "expired/fuzz.toml".into(),
        text: text.clone(),
    };
    let problems = match compile_sources(&[source], 0, &[], Vec::new()) {
        Ok((_, warnings)) => warnings,
        Err(err) => err.problems,
    };
    for p in problems {
        if let Some(span) = p.span {
            assert!(span.offset() + span.len() <= text.len());
        }
    }
});
