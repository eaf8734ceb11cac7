//! The conformance matrix (fixtures/matrix): every failure class as 7.x, 8.x and 9.x print it,
//! and key metadata as each generation returns it, classified right; the README's table is the
//! matrix itself, so it cannot drift from what is tested.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;

use crate::support::{keydoctor, root, NOW};

/// The rows, in the order the README's class table uses.
const CLASSES: [&str; 9] = [
    "missing",
    "invalidated",
    "expired",
    "under_privileged",
    "cross_cluster_misconfig",
    "wrong_key_type",
    "malformed_credentials",
    "api_key_service_disabled",
    "authentication_unresolved",
];

/// The columns, in order.
const VERSIONS: [&str; 5] = ["7.10", "7.17", "8.x reason only", "8.x", "9.x"];

#[derive(Deserialize)]
struct Messages {
    cell: Vec<Cell>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Cell {
    class: String,
    version: String,
    expect: Option<String>,
    key_id: Option<String>,
    #[serde(default)]
    candidates: Vec<String>,
    from: Option<String>,
    input: Option<String>,
    na: Option<String>,
}

#[derive(Deserialize)]
struct Metadata {
    shape: Vec<Shape>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Shape {
    version: String,
    call: String,
    fields: String,
    expect: String,
    key_id: String,
    metadata: String,
}

fn messages() -> Messages {
    toml::from_str(&std::fs::read_to_string(root().join("fixtures/matrix/messages.toml")).unwrap())
        .unwrap()
}

fn shapes() -> Metadata {
    toml::from_str(&std::fs::read_to_string(root().join("fixtures/matrix/metadata.toml")).unwrap())
        .unwrap()
}

/// The first finding of `explain --format json` on `input`.
fn explain(input: &str, extra: &[&str]) -> Value {
    let mut args = vec!["explain", "--format", "json", "--now", NOW];
    args.extend_from_slice(extra);
    let out = keydoctor(&args, input);
    assert!(out.code <= 1, "{}", out.stderr);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    report["findings"][0].clone()
}

#[test]
fn every_cell_of_the_message_matrix_is_classified_right() {
    let m = messages();
    let mut classes: Vec<&str> = keydoctor::model::Class::FAILURES
        .iter()
        .map(|c| c.as_str())
        .collect();
    classes.sort_unstable();
    let mut rows = CLASSES.to_vec();
    rows.sort_unstable();
    assert_eq!(rows, classes, "the matrix has a row per failure class");
    // Complete: every class in every column, once.
    for class in &classes {
        for version in VERSIONS {
            let n = m
                .cell
                .iter()
                .filter(|c| c.class == *class && c.version == version)
                .count();
            assert_eq!(n, 1, "{class} × {version}: {n} cells");
        }
    }
    assert_eq!(m.cell.len(), classes.len() * VERSIONS.len());
    let mut wrong = Vec::new();
    for cell in &m.cell {
        let (Some(input), Some(expect)) = (&cell.input, &cell.expect) else {
            assert!(
                cell.na.is_some(),
                "{} × {}: no input and no `na`",
                cell.class,
                cell.version
            );
            continue;
        };
        assert!(
            cell.from.is_some(),
            "{} × {}: say where the text is from",
            cell.class,
            cell.version
        );
        let f = explain(input, &[]);
        let got = f["class"].as_str().unwrap_or("(no finding)");
        let mut problems = Vec::new();
        if got != expect {
            problems.push(format!("class {got}, expected {expect}"));
        }
        if let Some(id) = &cell.key_id {
            if f["key_id"].as_str() != Some(id) {
                problems.push(format!("key id {}, expected {id}", f["key_id"]));
            }
        }
        let named: Vec<&str> = f["candidates"]
            .as_array()
            .map(|c| c.iter().filter_map(|c| c["class"].as_str()).collect())
            .unwrap_or_default();
        for candidate in &cell.candidates {
            if !named.contains(&candidate.as_str()) {
                problems.push(format!(
                    "candidate {candidate} not named (named: {named:?})"
                ));
            }
        }
        if !problems.is_empty() {
            wrong.push(format!(
                "{} × {}: {}",
                cell.class,
                cell.version,
                problems.join("; ")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "misclassified cells:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn key_metadata_of_every_generation_decides_a_hidden_401() {
    let mut wrong = Vec::new();
    for shape in shapes().shape {
        // What the client shows: the header it sent (so the key id) and the hidden 401.
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:ui2lp2axTNmsyakw9tvNnw", shape.key_id));
        let hidden = format!("> GET /_bulk HTTP/1.1\n> Authorization: ApiKey {encoded}\n< HTTP/1.1 401 Unauthorized\n{{\"error\":{{\"root_cause\":[{{\"type\":\"security_exception\",\"reason\":\"unable to authenticate with provided credentials and anonymous access is not allowed for this request\"}}],\"type\":\"security_exception\",\"reason\":\"unable to authenticate with provided credentials and anonymous access is not allowed for this request\"}},\"status\":401}}\n");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        std::fs::write(&path, &shape.metadata).unwrap();
        let f = explain(&hidden, &["--metadata", path.to_str().unwrap()]);
        if f["class"] != shape.expect.as_str() || f["key_id"] != shape.key_id.as_str() {
            wrong.push(format!(
                "{}: got {} {}, expected {} {}",
                shape.version, f["class"], f["key_id"], shape.expect, shape.key_id
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The README's matrix, rendered from the fixtures.
fn rendered_table() -> String {
    let m = messages();
    let mut out = String::from("| class |");
    for v in VERSIONS {
        out.push_str(&format!(" {v} |"));
    }
    out.push_str("\n| --- |");
    for _ in VERSIONS {
        out.push_str(" --- |");
    }
    out.push('\n');
    for class in CLASSES {
        out.push_str(&format!("| `{class}` |"));
        for v in VERSIONS {
            let cell = m
                .cell
                .iter()
                .find(|c| c.class == class && c.version == v)
                .unwrap();
            let text = match (&cell.expect, &cell.na) {
                (_, Some(_)) => "n/a".to_string(),
                (Some(e), None) if e == class => "✓".to_string(),
                (Some(e), None) if e == "authentication_unresolved" => {
                    "unresolved, names it".to_string()
                }
                (Some(e), None) => format!("`{e}`"),
                (None, None) => unreachable!(),
            };
            out.push_str(&format!(" {text} |"));
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str("| key metadata | call | fields | decides |\n| --- | --- | --- | --- |\n");
    for s in shapes().shape {
        out.push_str(&format!(
            "| {} | `{}` | {} | `{}` |\n",
            s.version, s.call, s.fields, s.expect
        ));
    }
    out
}

#[test]
fn the_readme_shows_the_matrix_as_tested() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("<!-- matrix -->\n")
        .expect("a <!-- matrix --> marker")
        + 16;
    let end = readme
        .find("<!-- /matrix -->")
        .expect("a <!-- /matrix --> marker");
    let expected = rendered_table();
    if readme[start..end] != expected {
        if std::env::var_os("KEYDOCTOR_UPDATE_README").is_some() {
            let updated = format!("{}{expected}{}", &readme[..start], &readme[end..]);
            std::fs::write(root().join("README.md"), updated).unwrap();
        }
        panic!(
            "README.md's matrix differs from fixtures/matrix (KEYDOCTOR_UPDATE_README=1 rewrites it):\n{expected}"
        );
    }
}
