//! Which cluster the inputs come from: the cluster name and uuid that Elasticsearch writes into
//! its JSON server logs (`elasticsearch.cluster.name`, `cluster.uuid`, …), its audit log
//! (`cluster.uuid`, and `cluster.name` with `emit_cluster_name`), the answers a bundle saved
//! (`GET /`: `cluster_name`, `cluster_uuid`) and its log files' names
//! (`<cluster>_server.json`, `<cluster>_audit.json`, `<cluster>_deprecation.json`, the
//! defaults of `config/log4j2.properties`).
//!
//! - **In**: texts and file names.
//! - **Out**: the clusters seen, each with where; [`mismatch`] holds them against the cluster
//!   `--es-url` reaches.
//! - **Never**: read more than the head of a file, or guess a name from `<name>.log` (the
//!   default `elasticsearch.log` and any product's log share that shape).

use std::io::Read;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::walk::FileEntry;

/// How much of each file is looked at: the fields repeat on every line.
const HEAD: u64 = 64 * 1024;

/// A cluster the inputs name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenCluster {
    pub name: Option<String>,
    pub uuid: Option<String>,
    /// Where it was read (a file, or `path:line`).
    pub from: String,
}

static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""(?:elasticsearch\.)?cluster[._]uuid"\s*:\s*"([A-Za-z0-9_-]{20,24})""#)
        .expect("uuid regex")
});
static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""(?:elasticsearch\.)?cluster[._]name"\s*:\s*"([^"\\]{1,255})""#)
        .expect("name regex")
});
static FILE_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(.+?)_(?:server|audit|deprecation|index_search_slowlog|index_indexing_slowlog)(?:-\d{4}-\d{2}-\d{2}-\d+)?\.json(?:\.gz)?$",
    )
    .expect("file name regex")
});

/// The clusters `text` names, line by line (`from` is the input's name). A line with both a name
/// and a uuid gives one cluster with both.
pub fn in_text(text: &str, from: &str) -> Vec<SeenCluster> {
    let mut out: Vec<SeenCluster> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if !line.contains("cluster") {
            continue;
        }
        let uuid = UUID.captures(line).map(|c| c[1].to_string());
        let name = NAME.captures(line).map(|c| c[1].to_string());
        if uuid.is_none() && name.is_none() {
            continue;
        }
        if out.iter().any(|s| s.uuid == uuid && s.name == name) {
            continue;
        }
        out.push(SeenCluster {
            name,
            uuid,
            from: format!("{from}:{}", i + 1),
        });
    }
    out
}

/// The cluster a log file's name gives (`prod-logs_audit.json` → `prod-logs`).
pub fn in_name(path: &Path) -> Option<SeenCluster> {
    let file = path.file_name()?.to_str()?;
    let caps = FILE_NAME.captures(file)?;
    Some(SeenCluster {
        name: Some(caps[1].to_string()),
        uuid: None,
        from: path.display().to_string(),
    })
}

/// The clusters the files of a scan name: their names, and the head of each.
pub fn of_files(files: &[FileEntry]) -> Vec<SeenCluster> {
    let mut out = Vec::new();
    for f in files {
        let label = f.name();
        if let Some(mut seen) = in_name(&f.path) {
            seen.from.clone_from(&label);
            out.push(seen);
        }
        let Ok(opened) = super::stream::open(&f.path, None, Some(HEAD)) else {
            continue;
        };
        let mut head = Vec::new();
        if opened.reader.take(HEAD).read_to_end(&mut head).is_err() && head.is_empty() {
            continue;
        }
        out.extend(in_text(&String::from_utf8_lossy(&head), &label));
    }
    out
}

/// Whether the cluster `--es-url` reaches (`name`, `uuid` from `GET /`) is another than the one
/// the inputs come from: by uuid when both sides have one, else by name. `None` when they agree
/// or the inputs name no cluster. The text says both and where the inputs' came from.
pub fn mismatch(seen: &[SeenCluster], name: Option<&str>, uuid: Option<&str>) -> Option<String> {
    let describe = |n: Option<&str>, u: Option<&str>| match (n, u) {
        (Some(n), Some(u)) => format!("`{n}` (uuid {u})"),
        (Some(n), None) => format!("`{n}`"),
        (None, Some(u)) => format!("uuid {u}"),
        (None, None) => "an unnamed cluster".to_string(),
    };
    let with_uuid: Vec<&SeenCluster> = seen.iter().filter(|s| s.uuid.is_some()).collect();
    let other = if let (Some(uuid), false) = (uuid, with_uuid.is_empty()) {
        if with_uuid.iter().any(|s| s.uuid.as_deref() == Some(uuid)) {
            return None;
        }
        with_uuid[0]
    } else {
        let name = name?;
        let named: Vec<&SeenCluster> = seen.iter().filter(|s| s.name.is_some()).collect();
        if named.is_empty() || named.iter().any(|s| s.name.as_deref() == Some(name)) {
            return None;
        }
        named[0]
    };
    // A line with the uuid alone (an audit line) takes the name another line or a file name
    // gives that cluster.
    let mut names: Vec<&str> = seen.iter().filter_map(|s| s.name.as_deref()).collect();
    names.sort_unstable();
    names.dedup();
    let other_name = other
        .name
        .as_deref()
        .or_else(|| {
            seen.iter()
                .find(|s| s.uuid.is_some() && s.uuid == other.uuid && s.name.is_some())
                .and_then(|s| s.name.as_deref())
        })
        .or_else(|| (names.len() == 1).then(|| names[0]));
    Some(format!(
        "--es-url answers as cluster {}, but the inputs come from cluster {} ({}): its answers are not used to decide anything here (no key lookups, no audit index). Point --es-url at the cluster that wrote these logs.",
        describe(name, uuid),
        describe(other_name, other.uuid.as_deref()),
        other.from
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_server_and_audit_lines_and_bundle_answers() {
        let text = concat!(
            r#"{"@timestamp":"2026-11-20T09:14:10.000Z","log.level":"WARN","message":"x","elasticsearch.cluster.uuid":"Zx8H2xAcR3yKXk5DkT0lUA","elasticsearch.node.name":"es-node-2","elasticsearch.cluster.name":"prod-logs"}"#,
            "\n",
            r#"{"type":"audit","cluster.uuid":"Zx8H2xAcR3yKXk5DkT0lUA","event.action":"authentication_failed"}"#,
            "\n",
            r#"{ "name" : "es-1", "cluster_name" : "prod", "cluster_uuid" : "k2cXh5dWQyC0aTnB7uVj8w" }"#,
            "\n"
        );
        let seen = in_text(text, "x");
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert_eq!(seen[0].name.as_deref(), Some("prod-logs"));
        assert_eq!(seen[1].uuid.as_deref(), Some("Zx8H2xAcR3yKXk5DkT0lUA"));
        assert_eq!(seen[2].from, "x:3");
        assert_eq!(
            in_name(Path::new("logs/prod-logs_audit-2026-11-10-1.json.gz")).and_then(|s| s.name),
            Some("prod-logs".into())
        );
        assert_eq!(in_name(Path::new("logs/elasticsearch.log")), None);
    }

    #[test]
    fn uuid_decides_when_both_sides_have_one_else_the_name() {
        let seen = in_text(
            r#"{"cluster.uuid":"Zx8H2xAcR3yKXk5DkT0lUA","cluster.name":"prod-logs"}"#,
            "a",
        );
        assert_eq!(
            mismatch(&seen, Some("prod-logs"), Some("Zx8H2xAcR3yKXk5DkT0lUA")),
            None
        );
        let m = mismatch(&seen, Some("prod"), Some("k2cXh5dWQyC0aTnB7uVj8w")).unwrap();
        assert!(m.contains("`prod` (uuid k2cXh5dWQyC0aTnB7uVj8w)"), "{m}");
        assert!(
            m.contains("`prod-logs` (uuid Zx8H2xAcR3yKXk5DkT0lUA) (a:1)"),
            "{m}"
        );
        // Same name, other uuid: another cluster (a rebuilt one, or a copy).
        assert!(mismatch(&seen, Some("prod-logs"), Some("k2cXh5dWQyC0aTnB7uVj8w")).is_some());
        // Names only.
        let named = vec![SeenCluster {
            name: Some("prod-logs".into()),
            uuid: None,
            from: "prod-logs_audit.json".into(),
        }];
        assert!(mismatch(&named, Some("prod"), Some("k2cXh5dWQyC0aTnB7uVj8w")).is_some());
        assert_eq!(mismatch(&named, Some("prod-logs"), None), None);
        assert_eq!(mismatch(&[], Some("prod"), None), None);
    }
}
