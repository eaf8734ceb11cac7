//! The privilege atlas (atlas/privileges.toml) against Elasticsearch's own answers: every
//! "action [A] is unauthorized … this action is granted by the … privileges [P]" in the corpora
//! (../shared/corpus/dev, corpus/own) and in the rules' examples must be what the atlas lists
//! for A: at the case's version when the case names one, else at some supported version. A
//! list the atlas cannot reproduce must be declared, with why, as a `[[disagreement]]`.

use std::path::Path;

use keydoctor::diagnosis::atlas::{atlas, effective, NEWEST};
use keydoctor::model::{PrivilegeKind, Version};
use regex::Regex;

use crate::support::root;

/// Every supported version line: 7.17, 8.0-8.19, 9.0-the newest.
fn lines() -> Vec<Version> {
    let mut out = vec![Version(7, 17, 0)];
    out.extend((0..=19).map(|m| Version(8, m, 0)));
    out.extend((0..=NEWEST.1).map(|m| Version(9, m, 0)));
    out
}

struct Seen {
    file: String,
    version: Option<Version>,
    action: String,
    list: Vec<String>,
}

fn collect(text: &str, file: &str, version: Option<Version>, out: &mut Vec<Seen>) {
    // Pasted texts escape quotes and brackets differently; the action may carry shard
    // suffixes (`bulk[s]`), so it is read up to "] is unauthorized".
    let re = Regex::new(
        r"action \[([a-z_:/\[\]*.-]+?)\] (?:towards remote cluster \S* )?is unauthorized[^\n]{0,600}?this action is granted by the (?:cluster|index) privileges \[([a-z_,]+)\]",
    )
    .unwrap();
    for c in re.captures_iter(text) {
        out.push(Seen {
            file: file.to_string(),
            version,
            action: c[1].to_string(),
            list: c[2].split(',').map(str::to_string).collect(),
        });
    }
}

fn walk(dir: &Path, out: &mut Vec<Seen>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out);
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let name = path.display().to_string();
        if path.extension().is_some_and(|e| e == "json") {
            if let Ok(case) = serde_json::from_str::<serde_json::Value>(&text) {
                let version = case
                    .get("es_version")
                    .and_then(|v| v.as_str())
                    .and_then(Version::parse);
                let input = case.get("input").and_then(|v| v.as_str()).unwrap_or("");
                // The input as pasted, and once more unescaped (JSON bodies inside it).
                collect(input, &name, version, out);
                collect(&input.replace("\\\"", "\""), &name, version, out);
                continue;
            }
        }
        collect(&text, &name, None, out);
    }
}

#[test]
fn every_granted_by_list_in_the_corpora_is_the_atlas_answer() {
    let mut seen = Vec::new();
    let shared = root().join("../shared/corpus/dev");
    if !shared.is_dir() {
        assert!(
            std::env::var("CI").is_err(),
            "{} is missing under CI",
            shared.display()
        );
    }
    walk(&shared, &mut seen);
    walk(&root().join("corpus/own"), &mut seen);
    walk(&root().join("rules"), &mut seen);
    seen.retain(|s| !s.action.contains('{'));
    assert!(seen.len() >= 20, "only {} lists found", seen.len());

    let a = atlas();
    let mut wrong = Vec::new();
    let mut declared = std::collections::BTreeSet::new();
    for s in &seen {
        let at = |v: Version| -> Vec<String> {
            a.granting(&s.action, v)
                .into_iter()
                .map(|p| p.name.clone())
                .collect()
        };
        let agrees = match s.version {
            Some(v) => at(effective(Some(v))) == s.list,
            None => lines().into_iter().any(|v| at(v) == s.list),
        };
        if agrees {
            continue;
        }
        let known = a
            .disagreements
            .iter()
            .position(|d| d.action == s.action && d.seen == s.list && s.file.ends_with(&d.case));
        if let Some(i) = known {
            declared.insert(i);
            continue;
        }
        wrong.push(format!(
            "{}: {} at {}: seen [{}], atlas [{}]",
            s.file,
            s.action,
            s.version.map_or("any version".into(), |v| v.to_string()),
            s.list.join(","),
            at(s.version.unwrap_or(NEWEST)).join(",")
        ));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Every declared disagreement is still seen, and still one (a fixed atlas drops it).
    assert_eq!(
        declared.len(),
        a.disagreements.len(),
        "a disagreement no case shows"
    );
    for d in &a.disagreements {
        let v = Version::parse(&d.version).unwrap();
        let got: Vec<String> = a
            .granting(&d.action, v)
            .into_iter()
            .map(|p| p.name.clone())
            .collect();
        assert_ne!(
            got, d.seen,
            "the disagreement on {} is resolved: drop it",
            d.action
        );
    }
}

/// One fact per version line, each a change the atlas records.
#[test]
fn each_version_line_has_its_own_privileges() {
    let a = atlas();
    let has = |kind, name: &str, v: &str| {
        a.named(kind, name)
            .is_some_and(|p| p.exists_in(Version::parse(v).unwrap()))
    };
    use PrivilegeKind::{Cluster, Index};
    // 7.17: create_doc, auto_configure, maintenance exist; nothing of 8.x does.
    assert!(has(Index, "create_doc", "7.17") && has(Index, "auto_configure", "7.17"));
    assert!(!has(Cluster, "manage_user_profile", "7.17"));
    assert!(!has(Index, "manage_data_stream_lifecycle", "7.17"));
    // 8.1: user profiles.
    assert!(has(Cluster, "manage_user_profile", "8.1"));
    // 8.6: read_security (first confirmed).
    assert!(!has(Cluster, "read_security", "8.1") && has(Cluster, "read_security", "8.6"));
    // 8.10: cross-cluster API keys.
    assert!(!has(Cluster, "cross_cluster_search", "8.9"));
    assert!(has(Cluster, "cross_cluster_search", "8.10"));
    assert!(has(Index, "cross_cluster_replication", "8.10"));
    // 8.11: data stream lifecycle.
    assert!(has(Index, "manage_data_stream_lifecycle", "8.11"));
    assert!(!has(Index, "manage_data_stream_lifecycle", "8.10"));
    // 8.13: read covers resolve cluster.
    let read = a.named(Index, "read").unwrap();
    assert!(!read.grants("indices:admin/resolve/cluster", Version(8, 12, 0)));
    assert!(read.grants("indices:admin/resolve/cluster", Version(8, 13, 0)));
    // 8.2: read covers resolve index (#87052, backported to 8.2).
    assert!(!read.grants("indices:admin/resolve/index", Version(8, 1, 0)));
    assert!(read.grants("indices:admin/resolve/index", Version(8, 2, 0)));
    // Privileges a newer line introduced are never offered to an older one: monitor_enrich is
    // 8.11 (#99646), the inference privileges 8.14 (#106371), the connector ones 8.15 (#110128).
    assert!(!has(Cluster, "monitor_enrich", "8.10") && has(Cluster, "monitor_enrich", "8.11"));
    assert!(!has(Cluster, "monitor_inference", "8.13") && has(Cluster, "manage_inference", "8.14"));
    assert!(!has(Cluster, "manage_connector", "8.14") && has(Cluster, "monitor_connector", "8.15"));
    // 9.4: read takes in every read_cross_cluster action (#141376), which reorders the list an
    // ES|QL denial names.
    let esql = |v: Version| -> Vec<String> {
        a.granting("indices:data/read/esql", v)
            .into_iter()
            .map(|p| p.name.clone())
            .collect()
    };
    assert_eq!(
        esql(Version(9, 3, 0)),
        ["read", "read_cross_cluster", "all"]
    );
    assert_eq!(
        esql(Version(9, 4, 0)),
        ["read_cross_cluster", "read", "all"]
    );
    // 8.19 and 9.1, not 9.0: the failure store.
    assert!(has(Index, "read_failure_store", "8.19"));
    assert!(!has(Index, "read_failure_store", "9.0"));
    assert!(has(Index, "read_failure_store", "9.1"));
    // Every line answers the commonest denial the same way.
    for v in lines() {
        let list: Vec<&str> = a
            .granting("indices:data/write/bulk[s]", v)
            .into_iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(list[0], "create_doc", "{v}");
        assert_eq!(list.last(), Some(&"all"), "{v}");
    }
}
