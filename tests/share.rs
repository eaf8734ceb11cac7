//! `--share`: a Markdown report for a ticket, with pseudonyms for hosts, nodes and clients, and
//! a final check that refuses to print anything that still looks like a secret.

use base64::Engine as _;

use crate::secrets::shapes;
use crate::support::{fixture, keydoctor, NOW};

#[test]
fn a_shared_scan_report_names_no_host_node_or_client() {
    let incident = fixture("scan/incident");
    let out = keydoctor(
        &["scan", incident.to_str().unwrap(), "--share", "--now", NOW],
        "",
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let text = &out.stdout;
    assert!(
        text.starts_with("# keydoctor report\n\n> Shared with `keydoctor --share`"),
        "{text}"
    );
    for real in [
        "10.0.0.7",
        "10.0.1.20",
        "10.0.2.30",
        "10.0.3.15",
        "es-node-1",
        "es-node-2",
    ] {
        assert!(!text.contains(real), "{real} survives:\n{text}");
    }
    // The same client under the same pseudonym wherever it appears.
    let plain = keydoctor(
        &[
            "scan",
            incident.to_str().unwrap(),
            "--format",
            "markdown",
            "--now",
            NOW,
        ],
        "",
    );
    assert_eq!(
        plain.stdout.matches("10.0.0.7").count(),
        text.matches("client-1").count() - usize::from(text.contains("`client-1`)")),
        "{text}"
    );
    assert!(text.contains("| nodes | node-1, node-2 |"), "{text}");
    // Key ids stay: they are what the ticket is about.
    assert!(text.contains("VuaCfGcBCdbkQm-e5aOx"));
}

#[test]
fn planted_secrets_and_hosts_never_reach_a_shared_report() {
    let b64 = base64::engine::general_purpose::STANDARD;
    for (n, (id, secret)) in [
        ("VuaCfGcBCdbkQm-e5aOx", "ui2lp2axTNmsyakw9tvNnw"),
        ("a-_9ZZ0zz-BBq1qq2q3Q", "Zm9vYmFyYmF6cXV4MTIzNDU2"),
    ]
    .into_iter()
    .enumerate()
    {
        for (i, shape) in shapes(id, secret).into_iter().enumerate() {
            let input = format!(
                "client 192.168.77.{n}{i} at https://es-prod-{i}.corp.example:9200\n{shape}"
            );
            let out = keydoctor(&["explain", "--share"], &input);
            assert!(out.code <= 1, "shape {i}: {}", out.stderr);
            let encoded = b64.encode(format!("{id}:{secret}"));
            for s in [secret, encoded.as_str()] {
                assert!(!out.stdout.contains(s), "shape {i}: {s} in\n{}", out.stdout);
            }
            assert!(
                !out.stdout.contains("192.168.77."),
                "shape {i}: {}",
                out.stdout
            );
            assert!(
                !out.stdout.contains("corp.example"),
                "shape {i}: {}",
                out.stdout
            );
        }
    }
}

#[test]
fn share_is_markdown_and_one_report() {
    let out = keydoctor(
        &["explain", "--share", "--format", "json"],
        "api key is expired",
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--format"), "{}", out.stderr);
    let incident = fixture("scan/incident");
    let out = keydoctor(
        &["scan", incident.to_str().unwrap(), "--share", "--follow"],
        "",
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("cannot follow"), "{}", out.stderr);
}

#[test]
fn a_secret_the_scanner_does_not_know_is_refused_by_the_independent_check() {
    // A session cookie after `auth`: no label the credential scanner knows, so the first pass
    // keeps it; the independent detector (entropy, decoded shapes) refuses the report.
    let planted = "q8Zr2LmX0vB7nT4kW9yP3sJ6";
    let input = format!(
        r#"session auth cookie {planted} error: {{"error":{{"root_cause":[{{"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request"}}]}},"status":401}}"#
    );
    let out = keydoctor(&["explain", "--share", "--now", NOW], &input);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("refusing to print the shareable report"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(planted));
    // A bare `user:password` in base64 (a Basic credential pasted alone) likewise.
    let basic = base64::engine::general_purpose::STANDARD.encode("elastic:changeme123");
    let out = keydoctor(
        &["explain", "--share", "--now", NOW],
        &input.replace(planted, &basic),
    );
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(!out.stderr.contains(&basic));
}
