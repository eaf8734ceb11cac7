//! `keydoctor scan`: the bundled incident (exact findings, counts, correlations, timelines),
//! filters, streaming past the evidence cap, bad inputs, determinism, `--follow`.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{keydoctor, root, NOW};

const INCIDENT: &str = "fixtures/scan/incident";
const FILEBEAT: &str = "VuaCfGcBCdbkQm-e5aOx";
const LOGSTASH: &str = "zcwN3YEBBmnjw-K-hW5_";
const METRICS: &str = "j7c0WYIBqecB5CbVR6Oq";

fn scan_json(args: &[&str]) -> (u8, Value) {
    let mut argv = vec!["scan", "--format", "json", "--now", NOW];
    argv.extend_from_slice(args);
    let out = keydoctor(&argv, "");
    assert!(out.code < 2, "exit {}: {}", out.code, out.stderr);
    (
        out.code,
        serde_json::from_str(&out.stdout).expect("one JSON document"),
    )
}

/// The reason a scan report gives for skipping the source ending in `suffix`, and whether the
/// source was still partly read.
fn skip_reason(report: &Value, suffix: &str) -> (String, bool) {
    let s = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"].as_str().unwrap().ends_with(suffix))
        .unwrap_or_else(|| panic!("no skip for {suffix}: {:#}", report["skipped"]));
    (
        s["reason"].as_str().unwrap().to_string(),
        s["partial"].as_bool().unwrap(),
    )
}

fn finding<'a>(report: &'a Value, class: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["class"] == class)
        .unwrap_or_else(|| panic!("no {class} finding in {report:#}"))
}

fn timeline(f: &Value) -> Vec<(String, String)> {
    f["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["at"].as_str().unwrap().to_string(),
                t["event"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

fn in_root<T>(f: impl FnOnce() -> T) -> T {
    // The in-process runner resolves relative paths against the test's working directory,
    // which cargo sets to the package root; say so rather than rely on it silently.
    assert_eq!(std::env::current_dir().unwrap(), root());
    f()
}

#[test]
fn incident_bundle_gives_exactly_three_findings() {
    let (code, r) = in_root(|| scan_json(&[INCIDENT]));
    assert_eq!(code, 1);
    let got: Vec<(&str, &str, u64)> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["class"].as_str().unwrap(),
                f["key_id"].as_str().unwrap(),
                f["count"].as_u64().unwrap(),
            )
        })
        .collect();
    // 8 server WARN lines + 8 Filebeat lines; 10 WARN + 10 Logstash lines; 5 audit denials.
    assert_eq!(
        got,
        vec![
            ("invalidated", FILEBEAT, 16),
            ("expired", LOGSTASH, 20),
            ("under_privileged", METRICS, 5),
        ]
    );
    assert_eq!(r["skipped"], serde_json::json!([]), "{:#}", r["skipped"]);
    assert_eq!(r["notes"], serde_json::json!([]));
    let files = r["files"].as_array().unwrap();
    assert_eq!(files.len(), 8);
    let format_of = |suffix: &str| {
        files
            .iter()
            .find(|f| f["source"].as_str().unwrap().ends_with(suffix))
            .unwrap_or_else(|| panic!("{suffix}"))
    };
    assert_eq!(format_of(".json.gz")["format"], "elasticsearch audit log");
    assert_eq!(format_of(".json.gz")["gzip"], true);
    assert_eq!(
        format_of("elasticsearch.log")["format"],
        "elasticsearch server log"
    );
    assert_eq!(
        format_of("elasticsearch.json")["format"],
        "elasticsearch server log (json)"
    );
    assert_eq!(format_of(".ndjson")["format"], "beats / elastic agent log");
    assert_eq!(format_of("logstash-plain.log")["format"], "logstash log");
    assert_eq!(format_of("api_keys.json")["format"], "api key metadata");
}

#[test]
fn invalidated_key_names_who_when_from_where_and_the_failing_client() {
    let (_, r) = in_root(|| scan_json(&[INCIDENT]));
    let f = finding(&r, "invalidated");
    let d = &f["details"];
    let by = &d["invalidated_by"];
    assert_eq!(by["user"], "jsmith");
    assert_eq!(by["realm"], "native1");
    assert_eq!(by["origin"], "10.0.3.15:51802");
    assert_eq!(by["timestamp"], "2026-11-20T09:14:03,247+0000");
    assert!(by["source"]
        .as_str()
        .unwrap()
        .ends_with("es-node-2/prod-logs_audit.json"));
    assert_eq!(by["line"], 65);
    assert_eq!(strs(&d["nodes"]), vec!["es-node-1", "es-node-2"]);
    // The server lines carry no client; the audit denials at the same node and time do.
    assert_eq!(strs(&d["client_addresses"]), vec!["10.0.0.7"]);
    assert!(d["client_join"]
        .as_str()
        .unwrap()
        .starts_with("10.0.0.7 (8 of the 8 failures logged by nodes)"));
    assert_eq!(f["first_seen"], "2026-11-20T09:14:10Z");
    assert_eq!(f["last_seen"], "2026-11-20T09:14:45Z");
    assert_eq!(
        timeline(f),
        vec![
            ("2026-11-10T08:05:00Z".into(), "created".into()),
            ("2026-11-20T09:13:57Z".into(), "last_success".into()),
            ("2026-11-20T09:14:03Z".into(), "invalidated".into()),
            ("2026-11-20T09:14:10Z".into(), "first_failure".into()),
            ("2026-11-20T09:14:45Z".into(), "last_failure".into()),
        ]
    );
    let invalidated = &f["timeline"][2];
    assert_eq!(
        invalidated["text"],
        "key invalidated by jsmith (native1) from 10.0.3.15:51802"
    );
    assert!(f["timeline"][0]["source"]
        .as_str()
        .unwrap()
        .ends_with("prod-logs_audit-2026-11-10-1.json.gz:2"));
    // Evidence points at file:line in the tree, first the node-1 server log.
    let ev = &f["evidence"][0];
    assert!(ev["source"]
        .as_str()
        .unwrap()
        .ends_with("es-node-1/elasticsearch.log"));
    assert_eq!(ev["line"], 11);
    assert!(f["evidence"].as_array().unwrap().len() <= 4);
}

#[test]
fn expired_key_is_inferred_from_metadata_and_says_so() {
    let (_, r) = in_root(|| scan_json(&[INCIDENT]));
    let f = finding(&r, "expired");
    assert_eq!(f["key_id"], LOGSTASH);
    assert_eq!(f["key_id_source"], "inference");
    let how = f["details"]["key_inference"].as_str().unwrap();
    assert!(how.starts_with("inferred, not stated"), "{how}");
    assert!(how.contains("expiration 2026-11-20T08:00:00Z"), "{how}");
    // Re-rendered with the key once it was inferred.
    assert!(
        f["summary"].as_str().unwrap().contains(LOGSTASH),
        "{}",
        f["summary"]
    );
    assert_eq!(strs(&f["details"]["client_addresses"]), vec!["10.0.1.20"]);
    assert_eq!(strs(&f["details"]["nodes"]), vec!["es-node-1", "es-node-2"]);
    assert_eq!(
        timeline(f).into_iter().map(|(_, e)| e).collect::<Vec<_>>(),
        vec![
            "created",
            "last_success",
            "expired",
            "first_failure",
            "last_failure"
        ]
    );
    // The creation event gives the expiration the key was created with.
    assert!(f["timeline"][0]["text"]
        .as_str()
        .unwrap()
        .contains("expiration 10d"));
}

#[test]
fn expired_key_without_metadata_is_inferred_from_the_audit_create_event() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&root().join(INCIDENT), dir.path());
    std::fs::remove_file(dir.path().join("api_keys.json")).unwrap();
    let path = dir.path().to_str().unwrap();
    let (_, r) = scan_json(&[path]);
    let f = finding(&r, "expired");
    assert_eq!(f["key_id"], LOGSTASH);
    let how = f["details"]["key_inference"].as_str().unwrap();
    assert!(how.contains("created with expiration 10d"), "{how}");
    // The create event's descriptors stand in for the metadata: the denied index is checked
    // against them.
    let f = finding(&r, "under_privileged");
    let meta = &f["details"]["metadata"];
    assert!(meta["derived_from"]
        .as_str()
        .unwrap()
        .ends_with("prod-logs_audit-2026-11-10-1.json.gz:3)"));
    assert_eq!(
        f["details"]["index_match"],
        "logs-secret-2026.11.20 matches none of the key's index patterns (metrics-*)"
    );
    let f = finding(&r, "invalidated");
    assert_eq!(f["details"]["metadata"]["state"], "invalidated");
}

#[test]
fn under_privileged_key_shows_action_index_and_client() {
    let (_, r) = in_root(|| scan_json(&[INCIDENT]));
    let f = finding(&r, "under_privileged");
    let d = &f["details"];
    assert_eq!(strs(&d["actions"]), vec!["indices:data/read/search"]);
    assert_eq!(strs(&d["indices"]), vec!["logs-secret-2026.11.20"]);
    assert_eq!(strs(&d["client_addresses"]), vec!["10.0.2.30"]);
    assert_eq!(
        d["index_match"],
        "logs-secret-2026.11.20 matches none of the key's index patterns (metrics-*)"
    );
    assert_eq!(
        d["version"], "8.12.2",
        "the version the nodes logged at start-up"
    );
}

#[test]
fn filters_by_key_class_and_time() {
    in_root(|| {
        let classes = |args: &[&str]| -> Vec<(String, u64)> {
            let mut argv = vec![INCIDENT];
            argv.extend_from_slice(args);
            let (_, r) = scan_json(&argv);
            r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    (
                        f["class"].as_str().unwrap().to_string(),
                        f["count"].as_u64().unwrap(),
                    )
                })
                .collect()
        };
        assert_eq!(
            classes(&["--key", METRICS]),
            vec![("under_privileged".into(), 5)]
        );
        assert_eq!(
            classes(&["--class", "expired"]),
            vec![("expired".into(), 20)]
        );
        assert_eq!(
            classes(&["--since", "2026-11-20T09:00"]),
            vec![("invalidated".into(), 16), ("under_privileged".into(), 5)]
        );
        assert_eq!(
            classes(&["--until", "2026-11-20T08:30"]),
            vec![("expired".into(), 20)]
        );
        // A window inside a failure burst counts only what is inside it: failures at
        // 09:14:30, :35, :40, :45 on the servers and the matching Filebeat lines.
        assert_eq!(
            classes(&[
                "--since",
                "2026-11-20T09:14:30Z",
                "--until",
                "2026-11-20T09:15"
            ]),
            vec![("invalidated".into(), 8)]
        );
        let out = keydoctor(&["scan", "--class", "nonsense", INCIDENT], "");
        assert_eq!(out.code, 2);
        assert!(
            out.stderr.contains("one of: api_key_service_disabled"),
            "{}",
            out.stderr
        );
        let out = keydoctor(&["scan", "--since", "last tuesday", INCIDENT], "");
        assert_eq!(out.code, 2);
    });
}

#[test]
fn human_report_prints_timeline_correlations_and_what_was_read() {
    let out = in_root(|| {
        keydoctor(
            &["scan", "--full", "--now", NOW, "--width", "100", INCIDENT],
            "",
        )
    });
    assert_eq!(out.code, 1);
    let text = &out.stdout;
    for want in [
        "  1. invalidated       VuaCfGcBCdbkQm-e5aOx  16×  11-20 09:14–09:14  ingest_owner, filebeat",
        "  Timeline",
        "key invalidated by jsmith (native1) from 10.0.3.15:51802",
        "invalidated by  jsmith (realm native1) at 2026-11-20T09:14:03,247+0000",
        "clients  10.0.0.7 (8 of the 8 failures logged by nodes)",
        "Read 8 files",
        "1 gzip",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}

#[test]
fn output_does_not_depend_on_thread_count() {
    let run = |threads: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_keydoctor"))
            .args(["scan", "--format", "json", "--now", NOW, INCIDENT])
            .current_dir(root())
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        out.stdout
    };
    assert_eq!(run("1"), run("2"));
}

/// A big server log: failures spread over several read chunks, inside multi-line records and
/// far past the evidence kept. Every one is counted, first and last are right.
#[test]
fn every_failure_is_counted_across_chunks_past_the_evidence_cap() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    let mut failures = 0;
    let mut last = String::new();
    for i in 0..50_000u32 {
        let (h, m, s) = (10 + i / 3600, (i / 60) % 60, i % 60);
        let ts = format!("2026-11-21T{h:02}:{m:02}:{s:02},000");
        if i % 20 == 7 {
            failures += 1;
            last = format!("2026-11-21T{h:02}:{m:02}:{s:02}Z");
            text.push_str(&format!("[{ts}][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-1] Authentication using apikey failed - api key [{FILEBEAT}] has been invalidated\n"));
            if i % 200 == 7 {
                // A stack trace continues the record: still one failure.
                text.push_str("org.elasticsearch.ElasticsearchSecurityException: api key has been invalidated\n\tat org.elasticsearch.xpack.security.authc.ApiKeyService.validateApiKeyCredentials(ApiKeyService.java:1)\n");
            }
        } else {
            text.push_str(&format!("[{ts}][INFO ][o.e.c.r.a.AllocationService] [es-1] routine line {i} with some padding to make it realistic in size, as server logs are\n"));
        }
    }
    assert!(text.len() > 3 * (2 << 20), "spans several chunks");
    let path = dir.path().join("elasticsearch.log");
    std::fs::write(&path, &text).unwrap();
    let (_, r) = scan_json(&[path.to_str().unwrap()]);
    let f = finding(&r, "invalidated");
    assert_eq!(f["count"], failures);
    assert_eq!(f["first_seen"], "2026-11-21T10:00:07Z");
    assert_eq!(f["last_seen"], last.as_str());
    assert!(f["evidence"].as_array().unwrap().len() <= 4);
    assert_eq!(r["skipped"], serde_json::json!([]));
}

/// An over-long line is one warning with its whole length: a last line whose length is an exact
/// multiple of the reading block, a line longer than two blocks, and a line dense with failures
/// (read as a kept record too) alike.
#[test]
fn a_long_line_is_warned_once_with_its_whole_length() {
    let dir = tempfile::tempdir().unwrap();
    let failure =
        format!("Authentication using apikey failed - api key [{FILEBEAT}] has been invalidated");
    let line = |len: usize, failures: usize| {
        let mut text = String::new();
        for _ in 0..failures {
            text.push_str(&failure);
            text.push(' ');
        }
        text.push_str(&"x".repeat(len - text.len() - failure.len()));
        text.push_str(&failure);
        assert_eq!(text.len(), len);
        text
    };
    let cases = [
        ("exact-2mib.log", line(2 << 20, 0), "2.0 MiB"),
        ("exact-4mib.log", line(4 << 20, 0), "4.0 MiB"),
        ("dense.log", line(5 << 19, 4000), "2.5 MiB"),
    ];
    for (name, text, _) in &cases {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let (code, r) = scan_json(&[dir.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    for (name, _, size) in &cases {
        let warned: Vec<&str> = r["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["source"].as_str().unwrap().ends_with(name))
            .map(|s| s["reason"].as_str().unwrap())
            .collect();
        assert_eq!(warned.len(), 1, "{name}: {warned:?}");
        assert!(
            warned[0].starts_with(&format!("line 1 is {size} long")),
            "{name}: {warned:?}"
        );
    }
}

#[test]
fn bad_inputs_are_skipped_with_a_reason_and_findings_survive() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let warn = format!("[2026-11-21T10:00:00,000][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-1] Authentication using apikey failed - api key [{FILEBEAT}] has been invalidated\n");
    // Binary.
    std::fs::write(
        d.join("core.bin"),
        b"\x7fELF\0\0\0binary api key is expired",
    )
    .unwrap();
    // Invalid UTF-8 around a failure: read, counted.
    let mut bad = b"garbage \xff\xfe\n".to_vec();
    bad.extend_from_slice(warn.as_bytes());
    std::fs::write(d.join("latin1.log"), bad).unwrap();
    // Corrupt gzip: the failure before the damage is still found.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(warn.replace(FILEBEAT, METRICS).as_bytes())
        .unwrap();
    for i in 0..50_000 {
        writeln!(
            enc,
            "[2026-11-21T10:00:01,000][INFO ][o.e.x] filler {i} {}",
            i * 7919
        )
        .unwrap();
    }
    let mut gz = enc.finish().unwrap();
    let cut = gz.len() * 2 / 3;
    gz.truncate(cut);
    gz.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    std::fs::write(d.join("elasticsearch-2026-11-20-1.log.gz"), gz).unwrap();
    // A 3 MiB line, then a failure.
    let mut long = "x".repeat(3 << 20);
    long.push('\n');
    long.push_str(&warn.replace(FILEBEAT, LOGSTASH));
    std::fs::write(d.join("long.log"), long).unwrap();
    // Truncated JSON audit line at the end of a file.
    std::fs::write(
        d.join("prod_audit.json"),
        "{\"type\":\"audit\", \"timestamp\":\"2026-11-21T10:00:00,000+0000\", \"event.action\":\"access_denied\", \"authentication.type\":\"API_KEY\", \"user.na",
    )
    .unwrap();
    std::fs::write(d.join("empty.log"), "").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(d, d.join("loop")).unwrap();
        std::os::unix::fs::symlink(d.join("gone"), d.join("dangling.log")).unwrap();
    }
    let path = d.to_str().unwrap();
    for follow in [false, true] {
        let mut args = vec![path];
        if follow {
            args.push("--follow-links");
        }
        let (code, r) = scan_json(&args);
        assert_eq!(code, 1);
        let keys: Vec<&str> = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["key_id"].as_str().unwrap_or("-"))
            .collect();
        for key in [FILEBEAT, METRICS, LOGSTASH] {
            assert!(keys.contains(&key), "{key} missing: {keys:?}");
        }
        let reason = |suffix: &str| skip_reason(&r, suffix);
        assert!(reason("core.bin").0.starts_with("binary data"));
        assert!(!reason("core.bin").1);
        assert!(reason("latin1.log").0.starts_with("invalid UTF-8"));
        assert!(reason("latin1.log").1);
        let (gz, partial) = reason(".log.gz");
        assert!(gz.starts_with("corrupt gzip"), "{gz}");
        assert!(partial);
        assert!(reason("long.log").0.starts_with("line 1 is 3.0 MiB long"));
        assert!(reason("empty.log").0.starts_with("empty input"));
        #[cfg(unix)]
        if follow {
            assert!(reason("loop").0.starts_with("symbolic link loop"));
            assert!(reason("dangling.log").0.contains("no such file"));
        } else {
            assert!(reason("loop").0.starts_with("symbolic link, not followed"));
        }
    }
    // Nothing readable at all: an input error, not a clean run.
    let out = keydoctor(&["scan", "/nonexistent/keydoctor/path"], "");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("nothing to scan"), "{}", out.stderr);
    assert!(
        out.stderr.contains("/nonexistent/keydoctor/path"),
        "{}",
        out.stderr
    );
    let empty = tempfile::tempdir().unwrap();
    let out = keydoctor(&["scan", empty.path().to_str().unwrap()], "");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no files under"), "{}", out.stderr);
}

#[test]
fn follow_prints_new_findings_and_growing_counts() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("elasticsearch.log");
    let line = |key: &str, s: u32| {
        format!("[2026-11-21T10:00:{s:02},000][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-1] Authentication using apikey failed - api key [{key}] has been invalidated\n")
    };
    std::fs::write(&log, line(FILEBEAT, 1)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_keydoctor"))
        .args([
            "scan",
            "--follow",
            "--poll-ms",
            "100",
            "--max-polls",
            "300",
            "--now",
            NOW,
        ])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let wait_for = |want: &str| -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
                if line.contains(want) {
                    return true;
                }
            }
        }
        false
    };
    assert!(wait_for("1 finding (1 invalidated)"), "initial report");
    let append = |text: String| {
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(text.as_bytes()).unwrap();
    };
    append(line(FILEBEAT, 2) + &line(FILEBEAT, 3));
    assert!(
        wait_for(&format!("· invalidated {FILEBEAT}: 1 → 3 failures")),
        "count grows"
    );
    append(line(METRICS, 4));
    assert!(
        wait_for(&format!("API key {METRICS} has been invalidated")),
        "new finding"
    );
    // Rotation: the file is renamed and a new one starts; the old lines are not read twice.
    std::fs::rename(&log, dir.path().join("elasticsearch-1.log")).unwrap();
    std::fs::write(&log, line(FILEBEAT, 5)).unwrap();
    assert!(
        wait_for(&format!("· invalidated {FILEBEAT}: 3 → 4 failures")),
        "across rotation"
    );
    let _ = child.kill();
    let _ = child.wait();
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        let target = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn secrets_in_a_scanned_tree_never_reach_the_report() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let id = "Qk7pZ2sBc9x1Lm3Nv4Ty";
    let secret = "s3cr3t-Vx9aB2cD4eF6gH8iJ0";
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    let mut big = String::new();
    for i in 0..5_000 {
        big.push_str(&format!("[2026-11-21T10:00:00,000][INFO ][logstash.outputs.elasticsearch][main] flushed {i} events\n"));
    }
    big.push_str(&format!("[2026-11-21T10:00:01,000][ERROR][logstash.outputs.elasticsearch][main] Encountered a retryable error {{:code=>401, :url=>\"https://es:9200/_bulk\", :headers=>{{\"Authorization\"=>\"ApiKey {encoded}\"}}, :body=>\"{{\\\"error\\\":{{\\\"reason\\\":\\\"unable to authenticate with provided credentials and anonymous access is not allowed for this request\\\",\\\"additional_unsuccessful_credentials\\\":\\\"API key: api key [{id}] has been invalidated\\\"}},\\\"status\\\":401}}\"}}\n"));
    big.push_str(&format!(
        "output.elasticsearch:\n  api_key: \"{id}:{secret}\"\n"
    ));
    std::fs::write(dir.path().join("logstash-plain.log"), &big).unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(big.as_bytes()).unwrap();
    std::fs::write(
        dir.path().join("logstash-plain-1.log.gz"),
        enc.finish().unwrap(),
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    for format in ["human", "json", "markdown"] {
        let out = keydoctor(
            &["scan", "--format", format, "--now", NOW, "--curl", path],
            "",
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        for s in [secret, encoded.as_str()] {
            assert!(
                !out.stdout.contains(s),
                "{format}: secret in\n{}",
                out.stdout
            );
            assert!(!out.stderr.contains(s));
        }
        assert!(out.stdout.contains(id), "the key id stays visible");
    }
}

/// What the audit logs in a tree can say about an invalidated key: the event, the event by a
/// name selector, or why there is none.
#[test]
fn invalidation_without_an_event_says_what_the_audit_logs_cannot_tell() {
    let warn = format!("[2026-11-21T10:00:00,000][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-1] Authentication using apikey failed - api key [{FILEBEAT}] has been invalidated\n");
    let meta = format!(
        r#"{{"api_keys":[{{"id":"{FILEBEAT}","name":"filebeat-prod","creation":1763000000000,"invalidated":true,"username":"ingest_owner","realm":"native1"}}]}}"#
    );
    let audit = |action: &str, extra: &str| {
        format!("{{\"type\":\"audit\", \"timestamp\":\"2026-11-21T09:00:00,000+0000\", \"node.id\":\"n1\", \"event.type\":\"security_config_change\", \"event.action\":\"{action}\", \"user.name\":\"ops\", \"user.realm\":\"file\"{extra}}}\n")
    };
    let case = |files: &[(&str, String)]| -> Value {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let (_, r) = scan_json(&[dir.path().to_str().unwrap()]);
        finding(&r, "invalidated")["details"].clone()
    };
    let d = case(&[("elasticsearch.log", warn.clone())]);
    assert!(d["audit_note"]
        .as_str()
        .unwrap()
        .starts_with("no audit log in the input"));
    let granted = format!("{{\"type\":\"audit\", \"timestamp\":\"2026-11-21T09:00:00,000+0000\", \"node.id\":\"n1\", \"event.type\":\"transport\", \"event.action\":\"access_granted\", \"apikey.id\":\"{FILEBEAT}\"}}\n");
    let d = case(&[
        ("elasticsearch.log", warn.clone()),
        ("c_audit.json", granted),
    ]);
    assert!(
        d["audit_note"]
            .as_str()
            .unwrap()
            .contains("hold no `security_config_change` event"),
        "{d:#}"
    );
    let other = audit("put_role", ", \"put\":{\"role\":{\"name\":\"x\"}}");
    let d = case(&[("elasticsearch.log", warn.clone()), ("c_audit.json", other)]);
    assert!(
        d["audit_note"].as_str().unwrap().starts_with(
            "no `invalidate_apikeys` event names this key in the audit logs of nodes n1"
        ),
        "{d:#}"
    );
    let by_name = audit(
        "invalidate_apikeys",
        ", \"origin.address\":\"10.1.1.1:5000\", \"invalidate\":{\"apikeys\":{\"name\":\"filebeat-*\",\"owned_by_authenticated_user\":false}}",
    );
    let d = case(&[
        ("elasticsearch.log", warn),
        ("c_audit.json", by_name),
        ("keys.json", meta),
    ]);
    let by = &d["invalidated_by"];
    assert_eq!(by["user"], "ops");
    assert_eq!(
        by["matched_by"],
        "by the name selector `filebeat-*`, which matches the key's name"
    );
}

#[test]
fn a_progress_bar_on_a_terminal_stderr_never_changes_the_report() {
    let run = |env: Option<&str>, quiet: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_keydoctor"));
        cmd.args(["scan", "--format", "json", "--now", NOW, INCIDENT])
            .current_dir(root());
        if quiet {
            cmd.arg("--quiet");
        }
        if let Some(tty) = env {
            cmd.env("KEYDOCTOR_TEST_TTY", tty);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        out.stdout
    };
    let plain = run(None, false);
    assert_eq!(run(Some("stderr"), false), plain);
    assert_eq!(run(Some("stderr"), true), plain);
}

/// FIFOs, files that grow or shrink while read, and a hundred thousand tiny files: the scan
/// ends and says what it skipped.
#[cfg(unix)]
#[test]
fn hostile_trees_finish_and_say_what_they_skipped() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let warn = |key: &str| {
        format!("[2026-11-21T10:00:00,000][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-1] Authentication using apikey failed - api key [{key}] has been invalidated\n")
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.log"), warn(FILEBEAT)).unwrap();
    // A FIFO inside the tree: nobody writes to it, so reading it would block forever.
    let fifo = d.join("pipe.log");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // A log that keeps growing while the scan runs.
    let growing = d.join("z-growing.log");
    std::fs::write(&growing, warn(METRICS)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, growing) = (Arc::clone(&stop), growing.clone());
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(growing)
                .unwrap();
            while !stop.load(Ordering::Relaxed) {
                for i in 0..1000 {
                    writeln!(f, "[2026-11-21T10:00:01,000][INFO ][o.e.x] filler {i}").unwrap();
                }
            }
        })
    };
    let (code, r) = scan_json(&[d.to_str().unwrap()]);
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert_eq!(code, 1);
    let keys: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["key_id"].as_str())
        .collect();
    assert!(
        keys.contains(&FILEBEAT) && keys.contains(&METRICS),
        "{keys:?}"
    );
    let (pipe, _) = skip_reason(&r, "pipe.log");
    assert!(
        pipe.starts_with("a FIFO (named pipe), not a regular file"),
        "{pipe}"
    );

    // The same FIFO named on the command line is read as a stream.
    let feeder = {
        let (fifo, text) = (fifo.clone(), warn(LOGSTASH));
        std::thread::spawn(move || std::fs::write(fifo, text).unwrap())
    };
    let (code, r) = scan_json(&[fifo.to_str().unwrap()]);
    feeder.join().unwrap();
    assert_eq!(code, 1);
    assert_eq!(r["findings"][0]["key_id"], LOGSTASH);

    // Truncated between the walk and the read: what was there is read, the loss is said.
    let short = d.join("short.log");
    std::fs::write(&short, warn(FILEBEAT)).unwrap();
    let (set, _) = keydoctor::rule::load(None).unwrap();
    let scanner = keydoctor::scan::Scanner::new(set, keydoctor::diagnosis::Options::new(None, 0));
    let result = scanner.scan_file(&keydoctor::source::walk::FileEntry {
        path: short.clone(),
        size: 10_000,
        label: None,
    });
    let reasons: Vec<String> = result
        .skipped
        .iter()
        .map(|s| s.reason.to_string())
        .collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].starts_with("truncated while read: 9.8 KiB when listed, "),
        "{reasons:?}"
    );
    assert!(result.skipped[0].reason.is_partial());

    // A file that opens but cannot be read (root ignores permission bits, so use the kernel's
    // own: reading /proc/self/mem at offset 0 fails with EIO).
    #[cfg(target_os = "linux")]
    {
        let tree = tempfile::tempdir().unwrap();
        std::fs::write(tree.path().join("a.log"), warn(FILEBEAT)).unwrap();
        std::os::unix::fs::symlink("/proc/self/mem", tree.path().join("mem.log")).unwrap();
        let (code, r) = scan_json(&[tree.path().to_str().unwrap(), "--follow-links"]);
        assert_eq!(code, 1);
        assert_eq!(r["findings"][0]["key_id"], FILEBEAT);
        let (mem, _) = skip_reason(&r, "mem.log");
        assert!(mem.starts_with("could not be read: "), "{mem}");
    }

    // A hundred thousand tiny files, one with a failure.
    let many = tempfile::tempdir().unwrap();
    for i in 0..100_000 {
        let sub = many.path().join(format!("{:03}", i % 500));
        if i < 500 {
            std::fs::create_dir(&sub).unwrap();
        }
        let text = if i == 77_777 {
            warn(FILEBEAT)
        } else {
            format!("[2026-11-21T10:00:00,000][INFO ][o.e.n.Node] [es-1] tiny {i}\n")
        };
        std::fs::write(sub.join(format!("{i}.log")), text).unwrap();
    }
    let (code, r) = scan_json(&[many.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(r["findings"].as_array().unwrap().len(), 1);
    assert_eq!(r["summary"]["inputs"], 100_000, "{:#}", r["summary"]);
}

#[test]
fn follow_takes_the_same_exit_rules_as_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("elasticsearch.log"),
        format!("[2026-11-21T10:00:01,000][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-1] Authentication using apikey failed - api key [{FILEBEAT}] has been invalidated\n"),
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "scan",
            "--follow",
            "--poll-ms",
            "10",
            "--max-polls",
            "2",
            "--now",
            NOW,
            path,
        ];
        args.extend_from_slice(extra);
        crate::support::keydoctor(&args, "").code
    };
    assert_eq!(run(&[]), 1);
    assert_eq!(run(&["--exit-zero"]), 0);
    assert_eq!(run(&["--fail-on", "error"]), 1);
}

/// `scan --follow` runs the passes a scan runs (pipeline::finish): the same tree gives the same
/// report, bundle checks and differential included.
#[test]
fn a_followed_tree_gets_the_report_a_scan_gets() {
    for tree in [
        root().join("fixtures/bundle/api-diagnostics-20261120-101500"),
        root().join("fixtures/scan/incident"),
    ] {
        let tree = tree.to_str().unwrap();
        let run = |extra: &[&str]| -> Value {
            let mut args = vec!["scan", tree, "--format", "json", "--now", NOW];
            args.extend_from_slice(extra);
            let out = keydoctor(&args, "");
            assert!(out.code < 2, "{}", out.stderr);
            serde_json::from_str(&out.stdout).expect("one JSON report")
        };
        let scanned = run(&[]);
        let followed = run(&["--follow", "--max-polls", "0"]);
        assert!(
            !scanned["findings"].as_array().unwrap().is_empty(),
            "{tree} has findings"
        );
        assert_eq!(scanned["findings"], followed["findings"], "{tree}");
        assert_eq!(scanned["notes"], followed["notes"], "{tree}");
        if tree.contains("api-diagnostics") {
            // The bundle's checks are among them (findings no log line holds).
            assert!(followed.to_string().contains("\"doctor-"), "{followed}");
        }
    }
}

#[test]
fn an_archive_cannot_be_followed() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("bundle.zip");
    std::fs::write(&zip, b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0").unwrap();
    let out = keydoctor(&["scan", "--follow", zip.to_str().unwrap()], "");
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("does not grow"), "{}", out.stderr);
}

/// A log with many distinct failing keys: the most frequent findings in full, the rest counted by
/// class, in every format; `--key` finds one the cap would have left out; `0` lifts the cap.
#[test]
fn findings_beyond_the_cap_are_counted_by_class_not_built() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("es_server.log");
    let mut text = String::new();
    // One key failing three times, then five keys failing once each.
    for i in 0..3 {
        text.push_str(&format!("[2026-11-21T03:10:0{i},223][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-data-1] Authentication using apikey failed - unable to find apikey with id FrequentKey000000001\n"));
    }
    let rare: Vec<String> = (0..5).map(|i| format!("RareKey{i:013}")).collect();
    for id in &rare {
        text.push_str(&format!("[2026-11-21T03:11:00,223][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-data-1] Authentication using apikey failed - unable to find apikey with id {id}\n"));
    }
    std::fs::write(&log, text).unwrap();
    let path = log.to_str().unwrap();

    let (code, report) = scan_json(&[path, "--max-findings", "2"]);
    assert_eq!(code, 1);
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2, "{report:#}");
    assert_eq!(
        findings[0]["key_id"], "FrequentKey000000001",
        "most frequent first"
    );
    let omitted = &report["omitted"];
    assert_eq!(omitted["max_findings"], 2);
    assert_eq!(omitted["findings"], 4);
    assert_eq!(omitted["failures"], 4);
    assert_eq!(omitted["by_class"][0]["class"], "missing");
    let summary = report["summary"]["text"].as_str().unwrap();
    assert!(
        summary.starts_with("6 findings (6 missing, 2 shown in full)"),
        "{summary}"
    );

    // The human report says what was left out; the Markdown report has a section for it.
    let capped = |extra: &[&str]| {
        let mut argv = vec!["scan", "--now", NOW, path, "--max-findings", "2"];
        argv.extend_from_slice(extra);
        keydoctor(&argv, "")
    };
    let human = capped(&["--color", "never"]);
    assert_eq!(human.code, 1);
    assert!(
        human
            .stdout
            .contains("4 more findings beyond --max-findings 2"),
        "{}",
        human.stdout
    );
    let md = capped(&["--format", "markdown"]);
    assert!(md.stdout.contains("## Not shown in full"), "{}", md.stdout);

    // A key asked for is never the one left out.
    let last = rare.last().unwrap();
    let (_, focused) = scan_json(&[path, "--max-findings", "1", "--key", last]);
    let ids: Vec<&str> = focused["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["key_id"].as_str())
        .collect();
    assert_eq!(ids, vec![last.as_str()], "{focused:#}");
    assert!(focused["omitted"].is_null(), "{focused:#}");
    assert!(focused["summary"]["text"]
        .as_str()
        .unwrap()
        .contains("1 finding"));

    let (_, all) = scan_json(&[path, "--max-findings", "0"]);
    assert_eq!(all["findings"].as_array().unwrap().len(), 6);
    assert!(all["omitted"].is_null());
}

/// A log of more distinct failing keys than a scan follows in full (what probing with random
/// ids writes): the first 10,000 are followed, later ones only counted, by class, and the
/// report says so in every format; the totals stay exact.
#[test]
fn distinct_keys_past_the_tracking_cap_are_counted_and_said() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = String::new();
    let line = |i: usize| {
        format!(
            "[2026-11-21T03:10:{:02},223][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-data-1] Authentication using apikey failed - unable to find apikey with id k{i:019}\n",
            i % 60
        )
    };
    for i in 0..10_000 {
        log.push_str(&line(i));
    }
    // 500 more keys, each failing twice, first seen once 10,000 are followed; one of them
    // fails 50 times.
    for i in 10_000..10_500 {
        log.push_str(&line(i));
        log.push_str(&line(i));
    }
    for _ in 0..48 {
        log.push_str(&line(10_250));
    }
    std::fs::write(dir.path().join("es_server.log"), &log).unwrap();
    let path = dir.path().to_str().unwrap();
    let (code, report) = scan_json(&[path]);
    assert_eq!(code, 1);
    assert_eq!(
        report["summary"]["text"],
        "10500 findings (10500 missing, 1000 shown in full) in 1 file."
    );
    assert_eq!(report["findings"].as_array().unwrap().len(), 1000);
    let omitted = &report["omitted"];
    assert_eq!(omitted["findings"], 9500, "{omitted}");
    assert_eq!(omitted["failures"], 10_048, "{omitted}");
    assert_eq!(omitted["untracked_findings"], 500, "{omitted}");
    assert_eq!(omitted["tracking_cap"], 10_000, "{omitted}");
    // The one that fails again and again is named first.
    let top = &omitted["untracked_most_frequent"];
    assert_eq!(top.as_array().unwrap().len(), 5, "{top}");
    assert_eq!(top[0]["key_id"], "k0000000000000010250", "{top}");
    assert_eq!(top[0]["failures"], 50, "{top}");
    assert_eq!(top[0]["class"], "missing", "{top}");
    // And `--key` follows it in full, cap or not.
    let (_, focused) = scan_json(&["--key", "k0000000000000010250", path]);
    assert_eq!(
        focused["findings"][0]["key_id"], "k0000000000000010250",
        "{focused}"
    );
    assert_eq!(focused["findings"][0]["count"], 50, "{focused}");
    for format in ["human", "markdown"] {
        let out = keydoctor(&["scan", "--format", format, "--now", NOW, path], "");
        assert!(
            crate::support::flat(&out.stdout).contains(
                "500 of them were first seen after 10000 distinct failures were already followed in full, so they were only counted (the most frequent of them: key k0000000000000010250 (50 failures),"
            ),
            "{format}:\n{}",
            out.stdout
        );
    }
}

/// `--since 63h` and `--until 61h` count back from `--now` (Elasticsearch's time units), and
/// read the same as the absolute times; a value that is neither is a usage error.
#[test]
fn since_and_until_take_time_values_before_now() {
    let incident = root().join("fixtures/scan/incident");
    let incident = incident.to_str().unwrap();
    // NOW is 2026-11-23T00:00:00Z.
    let (_, relative) = scan_json(&[incident, "--since", "63h", "--until", "61h"]);
    let (_, absolute) = scan_json(&[
        incident,
        "--since",
        "2026-11-20T09:00:00Z",
        "--until",
        "2026-11-20T11:00:00Z",
    ]);
    let (_, whole) = scan_json(&[incident]);
    assert_eq!(relative["findings"], absolute["findings"]);
    assert_ne!(
        relative["findings"], whole["findings"],
        "the window left nothing out"
    );
    let bad = keydoctor(&["scan", "--since", "2x", incident], "");
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("2h or 7d before now"), "{}", bad.stderr);
}

/// A record kept for a followed key that also names a key first seen past the cap: that key
/// is counted once, as untracked, not also as a finding of its own.
#[test]
fn a_key_past_the_tracking_cap_is_counted_once_even_beside_a_followed_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = String::new();
    for i in 0..10_000 {
        log.push_str(&format!(
            "[2026-11-21T03:10:{:02},223][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-data-1] Authentication using apikey failed - unable to find apikey with id k{i:019}\n",
            i % 60
        ));
    }
    log.push_str("[2026-11-21T03:11:00,223][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-data-1] Authentication using apikey failed - unable to find apikey with id k0000000000000000001 , then: Authentication using apikey failed - api key [k0000000000000010999] has been invalidated\n");
    std::fs::write(dir.path().join("es_server.log"), &log).unwrap();
    let (_, report) = scan_json(&[dir.path().to_str().unwrap()]);
    assert_eq!(
        report["summary"]["text"],
        "10001 findings (10000 missing, 1 invalidated, 1000 shown in full) in 1 file.",
        "{}",
        report["omitted"]
    );
    assert_eq!(report["omitted"]["untracked_findings"], 1);
    assert_eq!(report["omitted"]["findings"], 9001);
}
