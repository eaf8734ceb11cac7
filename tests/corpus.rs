//! Every case in ../shared/corpus/dev, and in the repository's own corpus/own, is classified as
//! labelled (see shared/corpus/README.md and corpus/README.md). The shared folder is read in
//! place; under `CI=true` a missing folder is a failure, not a skip.

use std::collections::BTreeMap;

use crate::support::{explain_json, root};

#[test]
fn every_corpus_case_is_classified_as_labelled() {
    let dir = std::env::var("KEYDOCTOR_CORPUS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root().join("../shared/corpus/dev"));
    if !dir.is_dir() {
        assert!(
            std::env::var("CI").is_err(),
            "corpus folder {} is missing under CI",
            dir.display()
        );
        return;
    }
    check_cases(&dir, 20);
}

/// The cases collected for this repository from public threads (corpus/README.md).
#[test]
fn every_case_of_our_own_corpus_is_classified_as_labelled() {
    check_cases(&root().join("corpus/own"), 20);
}

fn check_cases(dir: &std::path::Path, least: usize) {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("read corpus dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= least,
        "only {} corpus cases in {}",
        files.len(),
        dir.display()
    );

    let mut failures = Vec::new();
    let mut per_label: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for path in &files {
        let case: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("read case"))
                .expect("case JSON");
        let label = case["label"].as_str().expect("label").to_string();
        let hidden = case["reason_hidden"].as_bool().unwrap_or(false);
        let report = explain_json(case["input"].as_str().expect("input"));
        let findings = report["findings"].as_array().expect("findings");
        let classes: Vec<&str> = findings
            .iter()
            .map(|f| f["class"].as_str().unwrap())
            .collect();
        let ok = match label.as_str() {
            "other" => continue,
            "not_api_key_related" => classes.is_empty(),
            _ => {
                let exact = !classes.is_empty() && classes.iter().all(|c| *c == label);
                let unresolved_names_it = hidden
                    && !findings.is_empty()
                    && findings.iter().all(|f| {
                        f["class"] == "authentication_unresolved"
                            && f["candidates"]
                                .as_array()
                                .is_some_and(|c| c.iter().any(|c| c["class"] == label.as_str()))
                    });
                exact || unresolved_names_it
            }
        };
        let entry = per_label.entry(label.clone()).or_default();
        entry.1 += 1;
        if ok {
            entry.0 += 1;
        } else {
            failures.push(format!(
                "{:<55} label {:<26} got {:?}",
                path.file_name().unwrap().to_string_lossy(),
                label,
                classes
            ));
        }
    }
    let table: Vec<String> = per_label
        .iter()
        .map(|(label, (ok, all))| format!("{label:<26} {ok}/{all}"))
        .collect();
    assert!(
        failures.is_empty(),
        "{} corpus case(s) misclassified:\n{}\n\nper label:\n{}",
        failures.len(),
        failures.join("\n"),
        table.join("\n")
    );
}
