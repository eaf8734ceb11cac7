//! `keydoctor rotate --replay`: the old key's granted requests (fixtures/replay/audit) replayed
//! against a replacement's descriptors list exactly the requests it would break, and never call
//! a replacement proven over logs that cannot show its use.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{fixture, keydoctor};

const KEY: &str = "Lg5HsK8pQw2eRt7yUi4o";

fn rotate(descriptors: &str, logs: &str) -> (u8, Value) {
    let out = keydoctor(
        &[
            "rotate",
            KEY,
            "--metadata",
            &fixture("replay/api_keys.json").display().to_string(),
            "--role-descriptors",
            &fixture(descriptors).display().to_string(),
            "--replay",
            &fixture(logs).display().to_string(),
            "--es-version",
            "8.15",
            "--now",
            "2026-11-21",
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

fn requests(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let indices: Vec<&str> = r["indices"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            format!("{} {}", r["action"].as_str().unwrap(), indices.join(","))
                .trim_end()
                .to_string()
        })
        .collect()
}

#[test]
fn a_narrower_replacement_lists_exactly_the_requests_it_would_break() {
    let (code, plan) = rotate("replay/narrower.json", "replay/audit");
    let replay = &plan["replay"];
    assert_eq!(code, 1, "{replay:#}");
    assert_eq!(replay["proven"], false);
    // The key wrote to logs-app-default and metrics-app-default (through their backing
    // indices), read logs-web-prod once, called GET /, and created logs-app-checkout; the
    // replacement keeps only logs-app-*.
    let expected: BTreeSet<String> = [
        "cluster:monitor/main",
        "indices:data/write/bulk[s] .ds-metrics-app-default-2026.11.01-000001",
        "indices:data/read/search logs-web-prod",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    assert_eq!(requests(&replay["breaks"]), expected, "{replay:#}");
    assert_eq!(replay["unsure"], serde_json::json!([]));
    assert_eq!(
        (replay["kept"].as_u64(), replay["distinct"].as_u64()),
        (Some(3), Some(6))
    );
    // Only the key's own granted events: not another key's, not its denial, not an
    // authentication.
    assert_eq!(replay["events"], 50);
    let search = replay["breaks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "indices:data/read/search")
        .unwrap();
    assert_eq!(
        (search["count"].as_u64(), search["verdict"].as_str()),
        (Some(1), Some("denied_by_descriptors"))
    );
    assert!(search["why"]
        .as_str()
        .unwrap()
        .contains("least privilege: read"));
    // The plan creates the replacement with the descriptors replayed.
    let create = plan["steps"][0]["request"].as_str().unwrap();
    assert!(create.starts_with("POST /_security/api_key"), "{create}");
    assert!(!create.contains("metrics-app-*"), "{create}");
}

#[test]
fn a_replacement_that_covers_every_request_is_proven() {
    let (code, plan) = rotate("replay/enough.json", "replay/audit");
    let replay = &plan["replay"];
    assert_eq!(
        (code, replay["proven"].as_bool()),
        (0, Some(true)),
        "{replay:#}"
    );
    assert_eq!(replay["breaks"], serde_json::json!([]));
    assert_eq!(replay["kept"], 6);
}

#[test]
fn logs_without_the_keys_grants_prove_nothing() {
    // The incident bundle's audit logs never grant this key anything.
    let (code, plan) = rotate("replay/enough.json", "scan/incident");
    let replay = &plan["replay"];
    assert_eq!(
        (code, replay["proven"].as_bool()),
        (1, Some(false)),
        "{replay:#}"
    );
    assert!(replay["partial"]
        .to_string()
        .contains("no access_granted event"));
    // No audit log at all: a server log only.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("es01.log"),
        "[2026-11-20T10:00:00,000][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es01] Authentication using apikey failed - api key [Lg5HsK8pQw2eRt7yUi4o] has been invalidated\n",
    )
    .unwrap();
    let out = keydoctor(
        &[
            "rotate",
            KEY,
            "--metadata",
            &fixture("replay/api_keys.json").display().to_string(),
            "--replay",
            &dir.path().display().to_string(),
            "--now",
            "2026-11-21",
            "--format",
            "json",
        ],
        "",
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let plan: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        plan["replay"]["partial"]
            .to_string()
            .contains("no audit log was read"),
        "{plan:#}"
    );
}

#[test]
fn the_breaks_are_what_can_says_of_the_replacement() {
    // Each request the replay lists, asked of `can` with the replacement in the metadata,
    // is denied; each it keeps is allowed.
    let (_, plan) = rotate("replay/narrower.json", "replay/audit");
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("replay/api_keys.json")).unwrap())
            .unwrap();
    let narrower: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("replay/narrower.json")).unwrap())
            .unwrap();
    doc["api_keys"][0]["role_descriptors"] = narrower;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), doc.to_string()).unwrap();
    for request in requests(&plan["replay"]["breaks"]) {
        let out = keydoctor(
            &[
                "can",
                KEY,
                &request,
                "--metadata",
                &file.path().display().to_string(),
                "--es-version",
                "8.15",
            ],
            "",
        );
        assert_eq!(out.code, 1, "{request}: {}", out.stdout);
    }
    let out = keydoctor(
        &[
            "can",
            KEY,
            "indices:data/write/bulk[s] .ds-logs-app-default-2026.11.01-000001",
            "--metadata",
            &file.path().display().to_string(),
            "--es-version",
            "8.15",
        ],
        "",
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
}

#[test]
fn the_readme_shows_what_replay_and_suggest_print() {
    // Each block starts with its command line; the output may stop early at a `[…` line.
    let readme = std::fs::read_to_string(crate::support::root().join("README.md")).unwrap();
    for marker in ["<!-- replay-output -->", "<!-- suggest-output -->"] {
        let block = &readme[readme.find(marker).expect(marker)..];
        let start = block.find("```text\n").unwrap() + "```text\n".len();
        let end = block[start..].find("\n```").unwrap() + start;
        let (command, shown) = block[start..end].split_once('\n').unwrap();
        let shown = &shown[..shown.rfind("\n[…").unwrap_or(shown.len())];
        let mut argv: Vec<&str> = command
            .strip_prefix("$ keydoctor ")
            .expect("a command line")
            .split_whitespace()
            .collect();
        argv.extend(["--color", "never"]);
        let out = keydoctor(&argv, "");
        assert!(
            out.stdout.starts_with(shown.trim_end()),
            "README's {marker} is stale: update it from `{command}`\n{}",
            out.stdout
        );
    }
}

#[test]
fn impact_replays_against_a_replacement_too() {
    let args = |extra: &[&str]| {
        let mut argv = vec![
            "impact".to_string(),
            KEY.to_string(),
            "--logs".into(),
            fixture("replay/audit").display().to_string(),
            "--metadata".into(),
            fixture("replay/api_keys.json").display().to_string(),
            "--es-version".into(),
            "8.15".into(),
            "--now".into(),
            "2026-11-21".into(),
            "--format".into(),
            "json".into(),
        ];
        argv.extend(extra.iter().map(|s| s.to_string()));
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let out = keydoctor(&argv, "");
        (
            out.code,
            serde_json::from_str::<Value>(&out.stdout).unwrap(),
        )
    };
    let narrower = fixture("replay/narrower.json").display().to_string();
    let (code, impact) = args(&["--role-descriptors", &narrower]);
    assert_eq!(code, 1);
    let (_, plan) = rotate("replay/narrower.json", "replay/audit");
    assert_eq!(
        requests(&impact["replay"]["breaks"]),
        requests(&plan["replay"]["breaks"]),
        "the same replay as rotate's"
    );
    // Without a replacement, no replay is made or printed.
    let (_, plain) = args(&[]);
    assert!(plain.get("replay").is_none(), "{plain:#}");
}
