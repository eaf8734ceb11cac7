//! The message atlas, executed: every entry of `atlas/*.toml`, rendered with realistic values in
//! every envelope it names (a server WARN line, a 401 body, a Python exception, a Beats or
//! Logstash log line…), gets its class from `explain`; a neighbouring problem (`note`) gets a
//! note and no finding, a look-alike (`none`) no finding.

use keydoctor::rule::atlas;

use crate::support::{classes, explain_json};

#[test]
fn every_atlas_message_in_every_envelope_gets_its_class() {
    let mut failures = Vec::new();
    let mut cases = 0;
    for entry in atlas::entries() {
        for envelope in &entry.envelopes {
            cases += 1;
            let input = atlas::render(&entry, envelope);
            let report = explain_json(&input);
            let got = classes(&report);
            let notes = report["notes"].as_array().map_or(0, Vec::len);
            let ok = match entry.class {
                atlas::Reading::Nothing => got.is_empty(),
                atlas::Reading::Note => got.is_empty() && notes > 0,
                atlas::Reading::Finding(c) => got.first().map(String::as_str) == Some(c.as_str()),
            };
            if !ok {
                failures.push(format!(
                    "{} `{}` in {envelope}: want {}, got {got:?}\n    {input}",
                    entry.file, entry.id, entry.class
                ));
            }
        }
    }
    assert!(cases >= 80, "only {cases} cases");
    assert!(
        failures.is_empty(),
        "{} of {cases} atlas cases wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_key_id_of_each_message_that_names_one_is_the_findings() {
    for entry in atlas::entries() {
        if !matches!(entry.class, atlas::Reading::Finding(_))
            || !entry.template.contains("{key_id}")
        {
            continue;
        }
        for envelope in &entry.envelopes {
            let report = explain_json(&atlas::render(&entry, envelope));
            let ids: Vec<&str> = report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|f| f["key_id"].as_str())
                .collect();
            assert!(
                ids.contains(&"VuaCfGcBCdbkQm-e5aOx"),
                "{} in {envelope}: key ids {ids:?}",
                entry.id
            );
        }
    }
}
