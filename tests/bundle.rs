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
        ("missing", "api-key-not-found", "Zq8rTm4BpS-1XhWcYd0k"),
        ("invalidated", "api-key-invalidated", "zcwN3YEBBmnjw-K-hW5_"),
        (
            "api_key_service_disabled",
            "doctor-api-key-service-disabled",
            "-",
        ),
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
    assert_eq!(r["findings"][0]["details"]["version"], "8.12.2");
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
        let source = r["findings"][0]["evidence"][0]["source"].as_str().unwrap();
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
