//! One test per kind of bad input: a clear message or a best-effort diagnosis, never a panic.

use crate::support::{classes, keydoctor, keydoctor_with, NOW};

#[test]
fn empty_input_is_a_clear_input_error() {
    let out = keydoctor(&["explain"], "");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("nothing to explain"), "{}", out.stderr);
    assert!(out.stderr.contains("empty input"));
    assert!(out.stdout.is_empty());
}

#[test]
fn binary_input_is_skipped_with_a_reason() {
    let mut bytes = vec![0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00];
    bytes.extend_from_slice(b"api key is expired");
    let out = keydoctor_with(&["explain"], bytes, false);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("binary data"), "{}", out.stderr);
}

#[test]
fn binary_file_next_to_a_good_one_is_a_warning_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("core.bin");
    std::fs::write(&bin, [0u8, 1, 2, 3]).unwrap();
    let good = dir.path().join("err.txt");
    std::fs::write(
        &good,
        "Authentication using apikey failed - api key is expired\n",
    )
    .unwrap();
    let out = keydoctor(
        &[
            "explain",
            "--format",
            "json",
            bin.to_str().unwrap(),
            good.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(out.code, 1);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(classes(&report), ["expired"]);
    assert!(report["skipped"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("binary"));
    assert_eq!(report["skipped"][0]["partial"], false);
}

#[test]
fn invalid_utf8_is_read_lossily_and_still_diagnosed() {
    let mut bytes = b"\xff\xfe garbage \xc3\x28 then: ".to_vec();
    bytes.extend_from_slice(b"API key: api key [4qVxOY8BovXTWRJMh7gg] has been invalidated\n");
    let out = keydoctor_with(&["explain", "--format", "json"], bytes, false);
    assert_eq!(out.code, 1);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(classes(&report), ["invalidated"]);
    assert_eq!(report["findings"][0]["key_id"], "4qVxOY8BovXTWRJMh7gg");
    assert!(report["skipped"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("invalid UTF-8"));
    assert_eq!(report["skipped"][0]["partial"], true);
}

#[test]
fn a_100_mb_line_is_read_in_pieces_and_reported() {
    // Generated here, never committed: 100 MiB of filler, then the message on the same line.
    let mut line = "x".repeat(100 << 20);
    line.push_str(" Authentication using apikey failed - unable to find apikey with id Zq8rTm4BpS-1XhWcYd0k\n");
    let out = keydoctor(&["explain", "--format", "json", "--now", NOW], &line);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(classes(&report), ["missing"]);
    let reason = report["skipped"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("line 1 is 100.0 MiB"), "{reason}");
}

#[test]
fn truncated_json_still_gives_a_best_effort_diagnosis() {
    let cut = r#"{"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request","additional_unsuccessful_credentials":"API key: api key [4qVxOY8BovXTWRJMh7gg] has been invalidat"#;
    let out = keydoctor(&["explain", "--format", "json"], cut);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    // The decisive words were cut off: the generic 401 is what the text still shows.
    assert_eq!(classes(&report), ["authentication_unresolved"]);
    let truncated_metadata =
        r#"{"api_keys":[{"id":"VuaCfGcBCdbkQm-e5aOx","name":"x","creation":1,"invalid"#;
    let out = keydoctor(&["explain", "--format", "json"], truncated_metadata);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn unreadable_paths_are_reported_and_the_rest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.log");
    let looping = dir.path().join("loop.log");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&looping, &looping).unwrap();
    let good = dir.path().join("ok.log");
    std::fs::write(&good, "api key is expired\n").unwrap();
    let out = keydoctor(
        &[
            "explain",
            "--format",
            "json",
            missing.to_str().unwrap(),
            looping.to_str().unwrap(),
            dir.path().to_str().unwrap(),
            good.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let reasons: Vec<&str> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert!(reasons[0].contains("no such file"), "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.contains("directory")),
        "{reasons:?}"
    );
    assert_eq!(reasons.len(), 3, "{reasons:?}");
}

#[test]
fn only_unreadable_inputs_is_an_input_error_naming_each() {
    let out = keydoctor(&["explain", "/definitely/not/here.log"], "");
    assert_eq!(out.code, 2);
    let flat = out.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("/definitely/not/here.log: could not be read: no such"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_blank_or_nul_head_decides_nothing_and_a_stray_nul_is_not_binary() {
    let failure = "[2026-11-20T09:14:10,123][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-node-1] Authentication using apikey failed - api key [VuaCfGcBCdbkQm-e5aOx] has been invalidated\n";
    let dir = tempfile::tempdir().unwrap();
    // copytruncate: the writer kept its offset, so the file starts with NULs.
    let mut rotated = vec![0u8; 100_000];
    rotated.extend_from_slice(failure.as_bytes());
    std::fs::write(dir.path().join("rotated.log"), rotated).unwrap();
    // 20 KiB of blank lines, then the failure.
    std::fs::write(
        dir.path().join("blank-head.log"),
        format!("{}{failure}", "\n".repeat(20_000)),
    )
    .unwrap();
    // More blank head than is held to find the text: read on, never called empty.
    std::fs::write(
        dir.path().join("long-blank-head.log"),
        format!("{}{failure}", "\n".repeat(3 << 20)),
    )
    .unwrap();
    // A log with one stray NUL in its first block.
    std::fs::write(
        dir.path().join("stray.log"),
        format!("{}\0{failure}", "INFO all good\n".repeat(50)),
    )
    .unwrap();
    // Really binary.
    std::fs::write(
        dir.path().join("blob.bin"),
        [0u8, 1, 2, 3, 0, 0, 7, 8].repeat(2000),
    )
    .unwrap();
    let out = crate::support::keydoctor(
        &[
            "scan",
            dir.path().to_str().unwrap(),
            "--format",
            "json",
            "--now",
            crate::support::NOW,
        ],
        "",
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let finding = &report["findings"][0];
    assert_eq!(finding["class"], "invalidated");
    assert_eq!(
        finding["count"], 4,
        "one failure in each of the four text files"
    );
    let text = out.stdout.clone();
    assert!(
        text.contains("NUL bytes at the start"),
        "the NUL head is said: {text}"
    );
    assert!(
        text.contains("blob.bin") && text.contains("binary data"),
        "{text}"
    );
    // explain reads a file whole: the same rules.
    let out = crate::support::keydoctor(
        &[
            "explain",
            dir.path().join("rotated.log").to_str().unwrap(),
            "--now",
            crate::support::NOW,
        ],
        "",
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
}

/// Run the built binary with a deadline: a hang is a failure, not a stuck test.
#[cfg(unix)]
fn run_bounded(args: &[&str]) -> (Option<i32>, String) {
    use std::time::{Duration, Instant};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_keydoctor"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            return (status.code(), err);
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            return (None, String::new());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(unix)]
#[test]
fn an_endless_device_anywhere_on_the_command_line_is_bounded() {
    let paste = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        paste.path(),
        "api key [VuaCfGcBCdbkQm-e5aOx] has been invalidated\n",
    )
    .unwrap();
    let p = paste.path().to_str().unwrap();
    for args in [
        vec!["explain", "/dev/zero"],
        vec!["scan", "/dev/zero"],
        vec!["scan", p, "/dev/zero"],
        vec!["explain", p, "--metadata", "/dev/zero"],
        vec!["key", "VuaCfGcBCdbkQm-e5aOx", "--metadata", "/dev/zero"],
        vec!["explain", p, "--config", "/dev/zero"],
        vec![
            "explain",
            p,
            "--es-url",
            "https://127.0.0.1:9",
            "--ca-cert",
            "/dev/zero",
        ],
    ] {
        let (code, err) = run_bounded(&args);
        assert!(code.is_some(), "{args:?} hung");
        assert!(code != Some(101), "{args:?} panicked: {err}");
        if args[0] == "scan" && args.len() == 2 {
            // Nothing but the device: nothing to scan, with its reason.
            assert_eq!(code, Some(2), "{args:?}: {err}");
            assert!(err.contains("NUL bytes and no text"), "{args:?}: {err}");
        } else if args[0] == "scan" {
            // The device is skipped with its reason (in the report), the rest is read.
            assert!(matches!(code, Some(0 | 1)), "{args:?}: {err}");
        }
        if args.contains(&"--config") || args.contains(&"--ca-cert") {
            assert_eq!(code, Some(2), "{args:?}: {err}");
            assert!(err.contains("larger than 16.0 MiB"), "{args:?}: {err}");
        }
    }
}

#[cfg(unix)]
#[test]
fn a_file_swapped_for_a_fifo_after_the_walk_does_not_hang_the_scan() {
    // The walk lists a regular file; by the time it is opened, it is a FIFO no one writes to.
    // Opened without blocking and checked, it is skipped with its reason.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("es.log");
    std::fs::write(&log, "x\n".repeat(10)).unwrap();
    let size = std::fs::metadata(&log).unwrap().len();
    std::fs::remove_file(&log).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(&log)
        .status()
        .unwrap();
    assert!(status.success());
    let scanner = keydoctor::scan::Scanner::new(
        keydoctor::rule::load(None).unwrap().0,
        keydoctor::diagnosis::Options::new(None, 0),
    );
    let entry = keydoctor::source::walk::FileEntry {
        label: None,
        path: log.clone(),
        size,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result = scanner.scan_file(&entry);
        let _ = tx.send(format!("{:?}", result.skipped));
    });
    let skipped = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the scan hung on a FIFO");
    assert!(skipped.contains("FIFO"), "{skipped}");
}

#[cfg(unix)]
#[test]
fn a_scan_of_dev_zero_beside_a_log_says_what_it_skipped() {
    let log = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        log.path(),
        "api key [VuaCfGcBCdbkQm-e5aOx] has been invalidated\n",
    )
    .unwrap();
    let out = keydoctor(
        &[
            "scan",
            log.path().to_str().unwrap(),
            "/dev/zero",
            "--format",
            "json",
        ],
        "",
    );
    assert!(out.code < 2, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["findings"][0]["class"], "invalidated", "{report}");
    let reason = report["skipped"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("NUL bytes and no text"), "{reason}");
}

#[test]
fn a_scan_of_only_skipped_files_gives_no_verdict() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blob.bin"), b"\x00\x01\x02\x03binary").unwrap();
    let out = keydoctor(&["scan", dir.path().to_str().unwrap()], "");
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(out.stderr.contains("nothing to scan"), "{}", out.stderr);
    assert!(
        !out.stdout.contains("No API-key failure found"),
        "{}",
        out.stdout
    );
}
