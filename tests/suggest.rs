//! `keydoctor suggest`: descriptors learned from the key's granted requests
//! (fixtures/replay/audit) under which `can` allows every observed request, naming nothing
//! broader than what the requests named; what the key holds and never used; and no claim over
//! logs that cannot show its use.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{fixture, keydoctor};

const KEY: &str = "Lg5HsK8pQw2eRt7yUi4o";

fn suggest(logs: &str) -> (u8, Value) {
    let out = keydoctor(
        &[
            "suggest",
            KEY,
            "--logs",
            &fixture(logs).display().to_string(),
            "--metadata",
            &fixture("replay/api_keys.json").display().to_string(),
            "--es-version",
            "8.15",
            "--format",
            "json",
        ],
        "",
    );
    assert!(out.code != 2, "exit 2: {}", out.stderr);
    (
        out.code,
        serde_json::from_str(&out.stdout).expect("one JSON document"),
    )
}

/// The (action, indices) of every granted request of KEY in the fixture's audit log.
fn observed() -> BTreeSet<(String, Vec<String>)> {
    let text = std::fs::read_to_string(fixture("replay/audit/es01_audit.json")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["event.action"] == "access_granted" && e["apikey.id"] == KEY)
        .map(|e| {
            let indices = e["indices"]
                .as_array()
                .map(|a| a.iter().map(|i| i.as_str().unwrap().to_string()).collect())
                .unwrap_or_default();
            (e["action"].as_str().unwrap().to_string(), indices)
        })
        .collect()
}

#[test]
fn the_suggestion_allows_every_observed_request_and_names_only_what_was_used() {
    let (code, s) = suggest("replay/audit");
    assert_eq!((code, s["complete"].as_bool()), (0, Some(true)), "{s:#}");
    let descriptors = &s["role_descriptors"];
    // Put the suggestion in the key's place, with an owner who may do anything, and ask `can`
    // about each observed request.
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("replay/api_keys.json")).unwrap())
            .unwrap();
    doc["api_keys"][0]["role_descriptors"] = descriptors.clone();
    doc["api_keys"][0]["limited_by"] = serde_json::json!([{"all": {"cluster": ["all"], "indices": [{"names": ["*"], "privileges": ["all"]}]}}]);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), doc.to_string()).unwrap();
    let requests = observed();
    assert_eq!(requests.len(), 6);
    for (action, indices) in &requests {
        let request = format!("{action} {}", indices.join(","));
        let out = keydoctor(
            &[
                "can",
                KEY,
                request.trim_end(),
                "--metadata",
                &file.path().display().to_string(),
                "--es-version",
                "8.15",
            ],
            "",
        );
        assert_eq!(out.code, 0, "{request}: {}", out.stdout);
    }
    // Nothing broader than the names observed: each name is one a request named, or the data
    // stream of a backing index one named; no pattern.
    let mut allowed: BTreeSet<String> = BTreeSet::new();
    for (_, indices) in &requests {
        for i in indices {
            allowed.insert(i.clone());
            if let Some(rest) = i.strip_prefix(".ds-") {
                let stream = rest.rsplitn(3, '-').nth(2).unwrap();
                allowed.insert(stream.to_string());
            }
        }
    }
    let entries = descriptors["observed"]["indices"].as_array().unwrap();
    for e in entries {
        for n in e["names"].as_array().unwrap() {
            let n = n.as_str().unwrap();
            assert!(
                allowed.contains(n) && !n.contains('*'),
                "{n} was not observed"
            );
        }
        assert!(e.get("allow_restricted_indices").is_none());
    }
    assert_eq!(
        descriptors["observed"]["cluster"],
        serde_json::json!(["monitor"])
    );
    // Held and never used: view_index_metadata on logs-*.
    let unused: Vec<&str> = s["unused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["privilege"].as_str().unwrap())
        .collect();
    assert_eq!(unused, ["view_index_metadata"], "{s:#}");
}

#[test]
fn the_suggestion_proves_itself_with_rotate_replay() {
    let (_, s) = suggest("replay/audit");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), s["role_descriptors"].to_string()).unwrap();
    let out = keydoctor(
        &[
            "rotate",
            KEY,
            "--metadata",
            &fixture("replay/api_keys.json").display().to_string(),
            "--role-descriptors",
            &file.path().display().to_string(),
            "--replay",
            &fixture("replay/audit").display().to_string(),
            "--es-version",
            "8.15",
            "--now",
            "2026-11-21",
            "--format",
            "json",
        ],
        "",
    );
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (out.code, plan["replay"]["proven"].as_bool()),
        (0, Some(true)),
        "{plan:#}"
    );
    assert!(s["prove"].as_str().unwrap().contains("--replay"));
}

#[test]
fn logs_that_cannot_show_use_give_an_incomplete_answer() {
    let (code, s) = suggest("scan/incident");
    assert_eq!((code, s["complete"].as_bool()), (3, Some(false)), "{s:#}");
    assert!(s["partial"].to_string().contains("no access_granted event"));
}
