//! Elastic support-diagnostics bundles: the unpacked folder, a `.zip` and a `.tar.gz` of it,
//! scanned like logs plus what their API answers show, and what they cannot show said plainly.

use std::io::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::support::{fixture, keydoctor, NOW};

const BUNDLE: &str = "bundle/api-diagnostics-20261120-101500";

fn scan(path: &Path) -> (u8, Value) {
    let out = keydoctor(
        &[
            "scan",
            path.to_str().unwrap(),
            "--format",
            "json",
            "--now",
            NOW,
        ],
        "",
    );
    assert!(out.code < 2, "{}", out.stderr);
    (out.code, serde_json::from_str(&out.stdout).unwrap())
}

/// (class, rule, key) of every finding.
fn findings(r: &Value) -> Vec<(String, String, String)> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["class"].as_str().unwrap().to_string(),
                f["rule_id"].as_str().unwrap().to_string(),
                f["key_id"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect()
}

fn notes(r: &Value) -> String {
    r["notes"].to_string()
}

fn expected() -> Vec<(String, String, String)> {
    [
        // The cluster-wide cause first: it explains the per-key findings.
        (
            "api_key_service_disabled",
            "doctor-api-key-service-disabled",
            "-",
        ),
        ("missing", "api-key-not-found", "Zq8rTm4BpS-1XhWcYd0k"),
        ("invalidated", "api-key-invalidated", "zcwN3YEBBmnjw-K-hW5_"),
        (
            "cross_cluster_misconfig",
            "doctor-remote-api-key-on-transport-port",
            "-",
        ),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect()
}

#[test]
fn a_bundle_folder_gives_log_findings_doctor_findings_and_its_gaps() {
    let (code, r) = scan(&fixture(BUNDLE));
    assert_eq!(code, 1);
    assert_eq!(findings(&r), expected());
    // The bundle's version.json makes the remediation version-aware.
    assert_eq!(r["findings"][1]["details"]["version"], "8.12.2");
    let notes = notes(&r);
    assert!(notes.contains("the bundle cannot show API keys"), "{notes}");
    assert!(notes.contains("POST /_security/_query/api_key"), "{notes}");
    assert!(notes.contains("the bundle holds no audit log"), "{notes}");
    assert!(notes.contains("auditing is off on this cluster"), "{notes}");
    assert!(notes.contains("read from the bundle: version.json, commercial/xpack.json, remote_cluster_info.json, cluster_settings.json"), "{notes}");
    // The remote finding shows the answer it comes from.
    let remote = &r["findings"][3];
    assert_eq!(
        remote["evidence"][0]["source"],
        format!(
            "{}/remote_cluster_info.json (GET /_remote/info)",
            fixture(BUNDLE).display()
        )
    );
    assert!(
        remote["evidence"][0]["text"]
            .as_str()
            .unwrap()
            .contains("10.0.4.21:9300"),
        "{remote}"
    );
}

/// The fixture folder packed as the tool packs it.
fn pack_zip(into: &Path) {
    let root = fixture(BUNDLE);
    let mut zip = zip::ZipWriter::new(std::fs::File::create(into).unwrap());
    for entry in walkdir::WalkDir::new(&root).sort_by_file_name() {
        let entry = entry.unwrap();
        if !entry.file_type().is_file() {
            continue;
        }
        // As the tool zips it: everything under one `api-diagnostics-<date>/` folder.
        let rel = format!(
            "api-diagnostics-20261120-101500/{}",
            entry.path().strip_prefix(&root).unwrap().to_str().unwrap()
        );
        zip.start_file(rel, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(&std::fs::read(entry.path()).unwrap())
            .unwrap();
    }
    zip.finish().unwrap();
}

fn pack_tar_gz(into: &Path, evil: bool) {
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(into).unwrap(),
        flate2::Compression::fast(),
    );
    let mut tar = tar::Builder::new(gz);
    tar.append_dir_all("api-diagnostics-20261120-101500", fixture(BUNDLE))
        .unwrap();
    if evil {
        // A hostile entry that would land outside the folder it is unpacked into.
        let body = b"[2026-11-20T09:02:11,508][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [x] Authentication using apikey failed - api key is expired\n";
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        let name = b"../keydoctor-escaped.log";
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_cksum();
        tar.append(&header, &body[..]).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
}

#[test]
fn zip_and_tar_gz_bundles_read_as_the_folder_does() {
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("api-diagnostics-20261120-101500.zip");
    pack_zip(&zip_path);
    let tgz = dir.path().join("logs-bundle.tar.gz");
    pack_tar_gz(&tgz, true);
    for archive in [&zip_path, &tgz] {
        let (code, r) = scan(archive);
        assert_eq!(code, 1);
        assert_eq!(findings(&r), expected(), "{}", archive.display());
        let source = r["findings"][1]["evidence"][0]["source"].as_str().unwrap();
        assert!(
            source.starts_with(archive.to_str().unwrap()) && source.ends_with("logs/prod-logs.log"),
            "{source}"
        );
    }
    let (_, r) = scan(&tgz);
    let skipped = r["skipped"].to_string();
    assert!(
        skipped.contains("../keydoctor-escaped.log: a path outside the archive"),
        "{skipped}"
    );
    assert!(!std::env::temp_dir().join("keydoctor-escaped.log").exists());
    // A corrupt archive is a reason, not a crash.
    let bad = dir.path().join("broken.zip");
    std::fs::write(&bad, b"PK\x03\x04 not really a zip").unwrap();
    let out = keydoctor(&["scan", bad.to_str().unwrap()], "");
    assert_eq!(out.code, 2);
    let err = crate::support::flat(&out.stderr);
    assert!(err.contains("not a readable zip archive"), "{err}");
}

/// The `under_privileged` findings of a scan: key id → finding.
fn denials(r: &Value) -> std::collections::BTreeMap<String, Value> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["class"] == "under_privileged")
        .map(|f| (f["key_id"].as_str().unwrap().to_string(), f.clone()))
        .collect()
}

fn scan_two(bundle: &Path, logs: &Path) -> Value {
    let out = keydoctor(
        &[
            "scan",
            bundle.to_str().unwrap(),
            logs.to_str().unwrap(),
            "--format",
            "json",
            "--now",
            NOW,
        ],
        "",
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn a_denied_keys_owner_is_weighed_against_the_bundles_users_and_roles() {
    // Logstash's log beside the bundle: two keys of ingest_owner denied a write.
    let r = scan_two(&fixture(BUNDLE), &fixture("bundle/logstash"));
    let d = denials(&r);
    assert_eq!(d.len(), 2, "{d:?}");
    // metrics-app-default: ingest_role does not grant it, so no key of ingest_owner can.
    let metrics = &d["Lg5kR5IBcF9aHj2kMt01"];
    let limit = metrics["details"]["limit_source"].as_str().unwrap();
    assert!(
        limit.starts_with("limited_by: the owner `ingest_owner`'s roles [ingest_role]")
            && limit.contains("do not grant `create_doc` on `metrics-app-default`"),
        "{limit}"
    );
    // The limit is a typed fact with a stable code; the deprecated `limit_source` is its text.
    let fact = &metrics["facts"][0];
    assert_eq!(fact["code"], "limit.owner_lacks", "{:#}", metrics["facts"]);
    assert_eq!(fact["text"].as_str(), Some(limit));
    assert_eq!(fact["fields"]["owner"], "ingest_owner");
    assert_eq!(
        fact["fields"]["what"],
        "`create_doc` on `metrics-app-default`"
    );
    let first = &metrics["remediation"][0];
    assert_eq!(
        first["title"],
        "The smallest change: add `create_doc` on `metrics-app-default` to the owner's role `ingest_role`"
    );
    let request = first["request"].as_str().unwrap();
    assert!(
        request.starts_with("PUT /_security/role/ingest_role\n"),
        "{request}"
    );
    // The whole role, one entry added: what the role granted stays.
    let body: Value = serde_json::from_str(request.split_once('\n').unwrap().1).unwrap();
    assert_eq!(
        body["cluster"],
        serde_json::json!(["monitor", "manage_ilm"])
    );
    assert_eq!(body["indices"][0]["names"], serde_json::json!(["logs-*"]));
    assert_eq!(
        body["indices"][1],
        serde_json::json!({"names": ["metrics-app-default"], "privileges": ["create_doc"]})
    );
    let causes = &metrics["differential"]["causes"];
    assert_eq!(
        causes[0]["cause"],
        "its owner's privileges (limited_by) lack it"
    );
    assert_eq!(causes[0]["verdict"], "likely");
    // logs-app-default: the owner holds it today; the key's side (or an old snapshot).
    let logs = &d["Lg5kR5IBcF9aHj2kLg02"];
    let limit = logs["details"]["limit_source"].as_str().unwrap();
    assert!(
        limit.starts_with("owner grants: the owner `ingest_owner`'s roles [ingest_role]")
            && limit.contains("grant `create_doc` on `logs-app-default` today"),
        "{limit}"
    );
    assert_eq!(logs["facts"][0]["code"], "limit.owner_grants");
    assert_eq!(
        logs["differential"]["causes"][0]["cause"],
        "the key's own role descriptors lack it"
    );
    assert!(
        !logs["remediation"][0]["title"]
            .as_str()
            .unwrap()
            .contains("owner's role"),
        "{}",
        logs["remediation"][0]
    );
}

#[test]
fn an_owner_from_a_role_mapping_and_one_the_bundle_cannot_decide() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("bundle");
    copy_dir(&fixture(BUNDLE), &copy);
    let commercial = copy.join("commercial");
    // ingest_owner is no native user now: an LDAP user mapped by name, and by group.
    std::fs::write(commercial.join("security_users.json"), "{}").unwrap();
    let mappings = serde_json::json!({
        "ingest-by-name": {"enabled": true, "roles": ["ingest_role"], "rules": {"field": {"username": "ingest_*"}}, "metadata": {}},
        "ldap-writers": {"enabled": true, "roles": ["writer"], "rules": {"field": {"groups": "cn=writers,ou=groups,dc=example,dc=com"}}, "metadata": {}},
    });
    std::fs::write(
        commercial.join("security_role_mappings.json"),
        mappings.to_string(),
    )
    .unwrap();
    let limit = metrics_limit(&copy);
    assert!(
        limit.starts_with("undecided: the owner `ingest_owner`'s roles [ingest_role]")
            && limit.contains("from role mapping `ingest-by-name`")
            && limit.contains("role mapping `ldap-writers` may add roles"),
        "{limit}"
    );
    // A mapped role the bundle defines, which does not grant it either: decided after all.
    let roles_path = commercial.join("security_roles.json");
    let mut roles: Value =
        serde_json::from_str(&std::fs::read_to_string(&roles_path).unwrap()).unwrap();
    roles["writer"] = serde_json::json!({"cluster": [], "indices": [{"names": ["audit-*"], "privileges": ["create_doc"]}]});
    std::fs::write(&roles_path, roles.to_string()).unwrap();
    let limit = metrics_limit(&copy);
    assert!(
        limit.starts_with("limited_by: the owner `ingest_owner`'s roles [ingest_role]")
            && limit.contains("`ldap-writers` may add roles on groups, DN or realm the bundle does not show: [writer], which do not grant it either"),
        "{limit}"
    );
    // No mapping at all: the owner is unknown to the bundle, and that is said.
    std::fs::write(commercial.join("security_role_mappings.json"), "{}").unwrap();
    let limit = metrics_limit(&copy);
    assert!(
        limit.starts_with("unknown: the owner `ingest_owner` is not among the users"),
        "{limit}"
    );
}

/// The limit of the metrics pipeline's denial, scanning `bundle` with the Logstash log.
fn metrics_limit(bundle: &Path) -> String {
    let r = scan_two(bundle, &fixture("bundle/logstash"));
    denials(&r)["Lg5kR5IBcF9aHj2kMt01"]["details"]["limit_source"]
        .as_str()
        .unwrap()
        .to_string()
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_corrupt_entry_is_a_warning_and_the_good_entries_are_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("api-diagnostics-20261120-101500.zip");
    pack_zip(&good);
    // The same bundle with one more entry, stored as is, then damaged on disk: its CRC no
    // longer matches what is read.
    let mut zip = zip::ZipWriter::new_append(
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&good)
            .unwrap(),
    )
    .unwrap();
    zip.start_file(
        "api-diagnostics-20261120-101500/logs/extra.log",
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored),
    )
    .unwrap();
    zip.write_all(b"[2026-11-20T09:00:00,000][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-node-1] MARKER-OF-THE-DAMAGED-ENTRY\n")
        .unwrap();
    zip.finish().unwrap();
    let mut bytes = std::fs::read(&good).unwrap();
    let at = bytes
        .windows(6)
        .position(|w| w == b"MARKER")
        .expect("stored entry");
    bytes[at..at + 6].copy_from_slice(b"marker");
    std::fs::write(&good, bytes).unwrap();

    let (code, r) = scan(&good);
    assert_eq!(code, 1, "{r}");
    assert_eq!(
        findings(&r),
        expected(),
        "the good entries give the same findings"
    );
    let skipped = r["skipped"].to_string();
    assert!(
        skipped.contains("extra.log") && skipped.contains("the other entries were read"),
        "{skipped}"
    );
}

#[cfg(unix)]
#[test]
fn an_interrupted_bundle_scan_leaves_no_unpacked_folder() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("api-diagnostics-20261120-101500.zip");
    // A bundle with a large log (it compresses to little), so that unpacking and scanning take
    // long enough to be interrupted.
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    zip.start_file(
        "api-diagnostics-20261120-101500/logs/prod-logs.log",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    let line = "[2026-11-20T09:00:00,000][INFO ][o.e.c.r.a.AllocationService] [es-node-1] nothing to see here, just a line\n";
    for _ in 0..3_000_000 {
        zip.write_all(line.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let unpacked = |tmp: &Path| {
        std::fs::read_dir(tmp)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("keydoctor-bundle-")
            })
            .count()
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_keydoctor"))
        .args(["scan", "-q", zip_path.to_str().unwrap()])
        .env("TMPDIR", tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while unpacked(tmp.path()) == 0 && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(unpacked(tmp.path()), 1, "the archive was never unpacked");
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = child.wait().unwrap();
    assert!(!code.success(), "it was interrupted: {code:?}");
    assert_eq!(
        unpacked(tmp.path()),
        0,
        "an unpacked folder was left behind"
    );
}
