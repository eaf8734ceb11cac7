//! The live cluster's passes: which cluster to ask, its view of the findings' keys, the studied
//! key's own answers, and the audit events of an index. Their messages are data (`warnings`),
//! which the face prints; a failure after the pre-check is a note in the report.

use std::collections::BTreeSet;
use std::io::Write as _;

use crate::cluster::auth::{Auth, Secret};
use crate::cluster::{api, Client};
use crate::diagnosis::correlate::{ClusterView, KeyProbe};
use crate::diagnosis::{Diagnosis, Note, Options};
use crate::error::Error;
use crate::model::Class;
use crate::rule::RuleSet;
use crate::secret::redact;
use crate::source::identity::SeenCluster;

/// The failing client's key, from `--with-key-env VAR`: its id, and its value for the one
/// place that sends it (never shown).
pub struct StudiedKey {
    pub id: String,
    pub var: String,
    pub secret: Secret,
}

impl StudiedKey {
    /// The key in `value` (read from `var`), decoded to its id; `None` when it is not an
    /// encoded API key (base64 of `id:api_key`).
    pub fn decode(var: &str, value: &str) -> Option<Self> {
        let value = value.trim();
        match crate::secret::judge(value, Some(crate::secret::Scheme::ApiKey)) {
            (_, Some(id)) => Some(Self {
                id,
                var: var.to_string(),
                secret: Secret::new(value.to_string()),
            }),
            _ => None,
        }
    }
}

/// The cluster to ask, once the inputs are known: `None` when `--es-url` reaches another cluster
/// than the one the inputs come from (by uuid, else by name), with the sentence that says so.
pub fn same_cluster(
    checked: Option<(Client, api::ClusterInfo)>,
    seen: &[SeenCluster],
) -> (Option<Client>, Option<String>) {
    match checked {
        None => (None, None),
        Some((client, info)) => match crate::source::identity::mismatch(
            seen,
            info.cluster_name.as_deref(),
            info.cluster_uuid.as_deref(),
        ) {
            Some(why) => (None, Some(why)),
            None => (Some(client), None),
        },
    }
}

/// A failure of the cluster after the pre-check: the offline findings stand, and every format
/// says what the cluster could not add.
pub fn unavailable(diagnosis: &mut Diagnosis, what: &str, e: &Error) {
    diagnosis.notes.push(Note {
        rule_id: None,
        message: redact(&format!("{what} unavailable: {e}")),
        source: None,
        line: None,
        count: 1,
    });
}

/// `explain` and `scan` with `--es-url`: ask the cluster about every finding's key, and, with
/// `--with-key-env`, test the key itself (`_authenticate`, `_has_privileges` for each denial).
/// A probe that fails is a line in `warnings`, not the end of the report.
pub fn ask(
    client: Option<&Client>,
    studied: Option<&StudiedKey>,
    diagnosis: &mut Diagnosis,
    rules: &RuleSet,
    opts: &Options,
    warnings: &mut Vec<String>,
) -> Result<(), Error> {
    let Some(client) = client else {
        return Ok(());
    };
    let ids: BTreeSet<String> = diagnosis
        .findings
        .iter()
        .filter_map(|f| f.key_id.clone())
        .chain(studied.map(|k| k.id.clone()))
        .collect();
    let view = view(client, ids)?;
    crate::diagnosis::correlate::confirm(diagnosis, &view, rules, opts);
    let Some(key) = studied else {
        return Ok(());
    };
    let as_key = client.with_auth(Auth::StudiedKey {
        var: key.var.clone(),
        key: key.secret.clone(),
    })?;
    let mut probe = KeyProbe {
        id: key.id.clone(),
        var: key.var.clone(),
        label: view.label.clone(),
        ..Default::default()
    };
    probe.authenticates = match api::authenticate_as_key(&as_key) {
        Ok(answer) => Some(answer.map(|_| ())),
        Err(e) => {
            warnings.push(redact(&format!(
                "note: testing the key in {} with GET /_security/_authenticate failed: {e}",
                key.var
            )));
            None
        }
    };
    if probe.authenticates == Some(Ok(())) {
        let mut asked = BTreeSet::new();
        for f in &diagnosis.findings {
            if f.class != Class::UnderPrivileged || f.key_id.as_deref() != Some(key.id.as_str()) {
                continue;
            }
            let Some(privilege) = f.denial.least_privilege.clone() else {
                continue;
            };
            let cluster_privilege =
                f.denial.privilege_kind == Some(crate::model::PrivilegeKind::Cluster);
            let index = (!cluster_privilege)
                .then(|| f.denial.indices.first().cloned())
                .flatten();
            if !cluster_privilege && index.is_none() {
                continue;
            }
            if !asked.insert((privilege.clone(), index.clone())) {
                continue;
            }
            match api::key_has_privilege(&as_key, cluster_privilege, &privilege, index.as_deref()) {
                Ok((granted, _)) => probe.privileges.push((privilege, index, granted)),
                Err(e) => warnings.push(redact(&format!(
                    "note: _has_privileges with the key in {} failed: {e}",
                    key.var
                ))),
            }
        }
    }
    crate::diagnosis::correlate::apply_probe(diagnosis, &probe, rules, opts);
    Ok(())
}

/// Ask the cluster about `ids`: the keys it has, the ids it does not know.
pub fn view(client: &Client, ids: impl IntoIterator<Item = String>) -> Result<ClusterView, Error> {
    let info = api::info(client)?;
    let mut view = ClusterView {
        label: format!("the cluster at {}", label(client, &info)),
        ..Default::default()
    };
    for id in ids {
        let lookup = api::key_by_id(client, &id, info.version)?;
        if lookup.keys.iter().any(|k| k.id == id) {
            view.keys
                .extend(lookup.keys.into_iter().filter(|k| k.id == id));
        } else {
            view.absent.push(id);
        }
        for note in lookup.notes {
            if !view.notes.contains(&note) {
                view.notes.push(note);
            }
        }
    }
    Ok(view)
}

/// The cluster as reports name it: its URL, version and name.
pub fn label(client: &Client, info: &api::ClusterInfo) -> String {
    format!(
        "{} (Elasticsearch {}{})",
        client.url(),
        info.version_text,
        info.cluster_name
            .as_ref()
            .map(|n| format!(", cluster {n}"))
            .unwrap_or_default()
    )
}

/// Audit events read from an index into a temporary file, named for reports.
pub struct FetchedAudit {
    pub file: tempfile::NamedTempFile,
    pub label: String,
    pub size: u64,
}

/// `--audit-index PATTERN…`: read each pattern's audit events between `since_ms` (default:
/// 30 days before `now_ms`) and `until_ms` from the `--es-url` cluster; what was read is a
/// line in `warnings`.
pub fn audit_from_index(
    patterns: &[String],
    client: Option<&Client>,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
    now_ms: i64,
    warnings: &mut Vec<String>,
) -> Result<Vec<FetchedAudit>, Error> {
    if patterns.is_empty() {
        return Ok(Vec::new());
    }
    let client = client.ok_or_else(|| {
        Error::Usage(
            "--audit-index reads from the cluster: give --es-url URL (or ELASTICSEARCH_URL)".into(),
        )
    })?;
    let info = api::info(client)?;
    let since = since_ms.unwrap_or(now_ms - 30 * 86_400_000);
    let mut out = Vec::new();
    for pattern in patterns {
        let mut file = tempfile::NamedTempFile::new()?;
        let fetched = {
            let mut writer = std::io::BufWriter::new(file.as_file_mut());
            let fetched = crate::cluster::audit_index::fetch(
                client,
                info.version,
                pattern,
                since,
                until_ms,
                &mut writer,
            )?;
            writer.flush()?;
            fetched
        };
        warnings.push(format!(
            "keydoctor: read {} audit event{} from index {pattern} since {}{}{}",
            fetched.events,
            if fetched.events == 1 { "" } else { "s" },
            crate::model::format_ms(since),
            if since_ms.is_none() {
                " (the last 30 days; --since reads further back)"
            } else {
                ""
            },
            if fetched.truncated {
                format!(
                    "; stopped at {} events: narrow --since/--until",
                    crate::cluster::audit_index::MAX_EVENTS
                )
            } else {
                String::new()
            }
        ));
        let size = file.as_file().metadata().map(|m| m.len()).unwrap_or(0);
        if fetched.events > 0 {
            out.push(FetchedAudit {
                file,
                label: format!("audit index {pattern}"),
                size,
            });
        }
    }
    Ok(out)
}
