//! `keydoctor key` and `keydoctor expiring`: what key metadata says, for people and scripts.
//! The metadata comes from saved responses (`--metadata`) or the cluster (`--es-url`).

use std::io::Write as _;
use std::time::Duration;

use super::explain::parse_now;
use super::{width, ClusterArgs, CmdResult, ExpiringArgs, Io, KeyArgs, MetadataArgs, RotateArgs};
use crate::cluster::auth::{Auth, Secret};
use crate::cluster::{api, Client, Settings};
use crate::diagnosis::keys::{describe, expiring as sort_expiring, State};
use crate::diagnosis::rotate::{plan, IndexGrant};
use crate::diagnosis::timeline::parse_time_value;
use crate::error::{Error, Outcome};
use crate::event::credential::{judge, looks_like_key_id, redact, Scheme};
use crate::event::key_metadata::KeyMetadata;
use crate::event::parse_input;
use crate::report::keys::{render_expiring, render_key, render_plan};
use crate::report::RenderOptions;
use crate::source::{self, Skipped};

/// Read metadata files; an error when none could be read or none holds a key.
pub(super) fn load_metadata(
    paths: &[std::path::PathBuf],
    io: &mut Io<'_>,
) -> Result<(Vec<KeyMetadata>, Vec<String>), Error> {
    let mut keys = Vec::new();
    let mut sources = Vec::new();
    let mut skipped: Vec<Skipped> = Vec::new();
    for path in paths {
        let loaded = source::load_path(path, &mut io.stdin);
        skipped.extend(
            loaded
                .skipped
                .iter()
                .filter(|s| !s.reason.is_partial())
                .cloned(),
        );
        if let Some(input) = loaded.input {
            let doc = parse_input(&input);
            if doc.keys.is_empty() {
                skipped.push(Skipped {
                    source: input.name.clone(),
                    reason: source::SkipReason::Unreadable(
                        "no API key in it (expected a GET /_security/api_key or _query/api_key response)".into(),
                    ),
                });
            }
            keys.extend(doc.keys);
            sources.push(input.name);
        }
    }
    for s in &skipped {
        let line = format!("warning: {}: {}", s.source, s.reason);
        writeln!(io.stderr, "{}", redact(&line))?;
    }
    if keys.is_empty() && !skipped.is_empty() {
        return Err(Error::NoInput {
            reasons: skipped
                .iter()
                .map(|s| format!("{}: {}", s.source, s.reason))
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    Ok((keys, sources))
}

/// A client for `--es-url` (or `ELASTICSEARCH_URL`), or `None` when no URL is given.
pub(super) fn cluster_client(args: &ClusterArgs, io: &mut Io<'_>) -> Result<Option<Client>, Error> {
    let Some(url) = args
        .es_url
        .clone()
        .or_else(|| (io.env)("ELASTICSEARCH_URL").filter(|u| !u.trim().is_empty()))
    else {
        return Ok(None);
    };
    if args.insecure {
        writeln!(
            io.stderr,
            "warning: --insecure: the cluster's certificate is not verified; anyone on the network path can read the credentials keydoctor sends"
        )?;
    }
    let settings = Settings {
        url,
        auth: Auth::from_env(&*io.env),
        ca_cert: args.ca_cert.clone(),
        insecure: args.insecure,
        allow_plain_http: args.allow_plain_http,
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    Ok(Some(Client::new(&settings)?))
}

/// The failing client's key, from `--with-key-env VAR`: its id, and its value for the one
/// place that sends it (never shown).
pub(super) struct StudiedKey {
    pub(super) id: String,
    pub(super) var: String,
    pub(super) secret: Secret,
}

/// `--with-key-env VAR`: the encoded key in `VAR`, decoded to its id (the value is never shown).
pub(super) fn key_from_env(var: Option<&str>, io: &Io<'_>) -> Result<Option<StudiedKey>, Error> {
    let Some(var) = var else {
        return Ok(None);
    };
    let value = (io.env)(var)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            Error::Usage(format!(
                "--with-key-env {var}: the variable is not set or empty"
            ))
        })?;
    match judge(value.trim(), Some(Scheme::ApiKey)) {
        (_, Some(id)) => Ok(Some(StudiedKey {
            id,
            var: var.to_string(),
            secret: Secret::new(value.trim().to_string()),
        })),
        _ => Err(Error::Usage(format!(
            "--with-key-env {var}: the value is not an encoded API key (base64 of id:api_key); it is not shown"
        ))),
    }
}

/// `explain` and `scan` with `--es-url`: ask the cluster about every finding's key, and, with
/// `--with-key-env`, test the key itself (`_authenticate`, `_has_privileges` for each denial).
/// Before any file is read: the cluster given (`--es-url`, `ELASTICSEARCH_URL`) answers,
/// accepts keydoctor's credentials and says its version. A failure here is the user's to fix
/// at once (exit 2), before a long scan; `--audit-index` needs a cluster.
pub(super) fn precheck_cluster(
    cluster: &ClusterArgs,
    audit_index: &[String],
    io: &mut Io<'_>,
) -> Result<Option<(Client, api::ClusterInfo)>, Error> {
    let Some(client) = cluster_client(cluster, io)? else {
        if !audit_index.is_empty() {
            return Err(Error::Usage(
                "--audit-index reads from the cluster: give --es-url URL (or ELASTICSEARCH_URL)"
                    .into(),
            ));
        }
        return Ok(None);
    };
    let info = api::info(&client)?;
    Ok(Some((client, info)))
}

/// The cluster to ask, once the inputs are known: `None` when `--es-url` reaches another cluster
/// than the one the inputs come from (by uuid, else by name), with the sentence that says so.
pub(super) fn same_cluster(
    checked: Option<(Client, api::ClusterInfo)>,
    seen: &[crate::source::identity::SeenCluster],
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
pub(super) fn cluster_unavailable(
    diagnosis: &mut crate::diagnosis::Diagnosis,
    what: &str,
    e: &Error,
) {
    diagnosis.notes.push(crate::diagnosis::Note {
        rule_id: None,
        message: redact(&format!("{what} unavailable: {e}")),
        source: None,
        line: None,
        count: 1,
    });
}

pub(super) fn ask_cluster(
    client: Option<&Client>,
    studied: Option<&StudiedKey>,
    diagnosis: &mut crate::diagnosis::Diagnosis,
    rules: &crate::rule::RuleSet,
    opts: &crate::diagnosis::Options,
    io: &mut Io<'_>,
) -> Result<(), Error> {
    let Some(client) = client else {
        return Ok(());
    };
    let ids: std::collections::BTreeSet<String> = diagnosis
        .findings
        .iter()
        .filter_map(|f| f.key_id.clone())
        .chain(studied.map(|k| k.id.clone()))
        .collect();
    let view = cluster_view(client, ids)?;
    crate::diagnosis::correlate::confirm(diagnosis, &view, rules, opts);
    let Some(key) = studied else {
        return Ok(());
    };
    let as_key = client.with_auth(Auth::StudiedKey {
        var: key.var.clone(),
        key: key.secret.clone(),
    })?;
    let mut probe = crate::diagnosis::correlate::KeyProbe {
        id: key.id.clone(),
        var: key.var.clone(),
        label: view.label.clone(),
        ..Default::default()
    };
    // The probe adds to the diagnosis; its failure is a note, not the end of the report.
    probe.authenticates = match api::authenticate_as_key(&as_key) {
        Ok(answer) => Some(answer.map(|_| ())),
        Err(e) => {
            let line = format!(
                "note: testing the key in {} with GET /_security/_authenticate failed: {e}",
                key.var
            );
            writeln!(io.stderr, "{}", redact(&line))?;
            None
        }
    };
    if probe.authenticates == Some(Ok(())) {
        let mut asked = std::collections::BTreeSet::new();
        for f in &diagnosis.findings {
            if f.class != crate::model::Class::UnderPrivileged
                || f.key_id.as_deref() != Some(key.id.as_str())
            {
                continue;
            }
            let Some(privilege) = f.details.least_privilege.clone() else {
                continue;
            };
            let cluster_privilege = f.details.privilege_kind == Some("cluster");
            let index = (!cluster_privilege)
                .then(|| f.details.indices.first().cloned())
                .flatten();
            if !cluster_privilege && index.is_none() {
                continue;
            }
            if !asked.insert((privilege.clone(), index.clone())) {
                continue;
            }
            match api::key_has_privilege(&as_key, cluster_privilege, &privilege, index.as_deref()) {
                Ok((granted, _)) => probe.privileges.push((privilege, index, granted)),
                Err(e) => {
                    let line = format!(
                        "note: _has_privileges with the key in {} failed: {e}",
                        key.var
                    );
                    writeln!(io.stderr, "{}", redact(&line))?;
                }
            }
        }
    }
    crate::diagnosis::correlate::apply_probe(diagnosis, &probe, rules, opts);
    Ok(())
}

/// Ask the cluster about `ids`: the keys it has, the ids it does not know.
pub(super) fn cluster_view(
    client: &Client,
    ids: impl IntoIterator<Item = String>,
) -> Result<crate::diagnosis::correlate::ClusterView, Error> {
    let info = api::info(client)?;
    let mut view = crate::diagnosis::correlate::ClusterView {
        label: format!("the cluster at {}", cluster_label(client, &info)),
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

/// Where the metadata comes from, checked once.
enum Source {
    Files(Vec<std::path::PathBuf>),
    Cluster(Client),
}

fn source_of(args: &MetadataArgs, io: &mut Io<'_>) -> Result<Source, Error> {
    if !args.metadata.is_empty() {
        return Ok(Source::Files(args.metadata.clone()));
    }
    match cluster_client(&args.cluster, io)? {
        Some(client) => Ok(Source::Cluster(client)),
        None => Err(Error::Usage(
            "key metadata is needed: --metadata FILE (a saved GET /_security/api_key response) or --es-url URL (or ELASTICSEARCH_URL), with credentials in ES_API_KEY or ES_USERNAME and ES_PASSWORD".into(),
        )),
    }
}

pub(super) fn cluster_label(client: &Client, info: &api::ClusterInfo) -> String {
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

/// A key id from what the user gave: an id, or an encoded credential (never echoed).
fn key_id_of(given: &str) -> Result<String, Error> {
    let given = given.trim();
    if looks_like_key_id(given) {
        return Ok(given.to_string());
    }
    match judge(given, Some(Scheme::ApiKey)) {
        (_, Some(id)) => Ok(id),
        _ => Err(Error::Usage(
            "the argument is neither a key id nor an encoded API key (base64 of id:api_key); it is not shown here in case it is a secret".into(),
        )),
    }
}

pub(super) fn key(args: KeyArgs, color: bool, io: &mut Io<'_>) -> CmdResult {
    let now_ms = parse_now(args.source.now.as_deref())?;
    let id = key_id_of(&args.key)?;
    let (keys, sources, notes) = match source_of(&args.source, io)? {
        Source::Files(paths) => {
            let (keys, sources) = load_metadata(&paths, io)?;
            (keys, sources, Vec::new())
        }
        Source::Cluster(client) => {
            let info = api::info(&client)?;
            let lookup = api::key_by_id(&client, &id, info.version)?;
            (
                lookup.keys,
                vec![cluster_label(&client, &info)],
                lookup.notes,
            )
        }
    };
    let mut report = describe(&id, &keys, sources, now_ms);
    report.notes = notes;
    let opts = RenderOptions {
        color,
        width: width(io, args.output.width),
        curl: args.output.curl,
        full: args.output.full,
        target: super::curl_target(&args.source.cluster),
    };
    render_key(&report, args.output.format.into(), &opts, &mut io.stdout)?;
    Ok(if report.state == State::Active {
        Outcome::Clean
    } else {
        Outcome::Found
    })
}

pub(super) fn expiring(args: ExpiringArgs, color: bool, io: &mut Io<'_>) -> CmdResult {
    let now_ms = parse_now(args.source.now.as_deref())?;
    let within_ms = parse_time_value(&args.within).ok_or_else(|| {
        Error::Usage(format!(
            "--within `{}` is not a time value (expected e.g. 14d, 36h, 90m)",
            args.within
        ))
    })?;
    let (keys, notes) = match source_of(&args.source, io)? {
        Source::Files(paths) => (load_metadata(&paths, io)?.0, Vec::new()),
        Source::Cluster(client) => {
            let info = api::info(&client)?;
            let lookup = api::active_keys(&client, info.version)?;
            (lookup.keys, lookup.notes)
        }
    };
    let mut report = sort_expiring(&keys, &args.within, within_ms, now_ms);
    report.notes = notes;
    if !args.logs.is_empty() {
        let scanned = super::scan::scan_paths(&args.logs, None, now_ms)?;
        for s in &scanned.diagnosis.skipped {
            let line = format!("warning: {}: {}", s.source, s.reason);
            writeln!(io.stderr, "{}", redact(&line))?;
        }
        if scanned
            .files
            .iter()
            .all(|f| f.format != crate::source::sniff::LogFormat::Audit)
        {
            report.notes.push(
                "no audit log among the scanned files: only audit logs (access_granted, authentication_success) show a key's successful use".into(),
            );
        }
        report.join_usage(&scanned.successes);
    }
    let opts = RenderOptions {
        color,
        width: width(io, args.output.width),
        curl: args.output.curl,
        full: args.output.full,
        target: super::curl_target(&args.source.cluster),
    };
    render_expiring(
        &report,
        args.include_no_expiry,
        args.output.format.into(),
        &opts,
        &mut io.stdout,
    )?;
    // An already expired key fails now: worse than one about to, so it counts as much.
    let any = !report.keys.is_empty()
        || !report.expired.is_empty()
        || (args.include_no_expiry && !report.no_expiration.is_empty());
    Ok(if any { Outcome::Found } else { Outcome::Clean })
}

pub(super) fn impact(args: super::ImpactArgs, color: bool, io: &mut Io<'_>) -> CmdResult {
    let now_ms = parse_now(args.source.now.as_deref())?;
    let id = key_id_of(&args.key)?;
    use crate::diagnosis::impact::{related_query, RelatedKey};
    let products =
        crate::diagnosis::products::products(args.rules.as_deref()).map_err(Error::Usage)?;
    let problems = crate::diagnosis::products::check_products(&products);
    if !problems.is_empty() {
        return Err(Error::Usage(format!(
            "products.toml: {}",
            problems.join("; ")
        )));
    }
    // Metadata is optional here: the logs answer the question; metadata adds state and owner.
    let mut live = None;
    let keys = if !args.source.metadata.is_empty() {
        load_metadata(&args.source.metadata, io)?.0
    } else if let Some(client) = cluster_client(&args.source.cluster, io)? {
        let info = api::info(&client)?;
        let keys = api::key_by_id(&client, &id, info.version)?.keys;
        live = Some((client, info.version));
        keys
    } else {
        Vec::new()
    };
    let scanned = super::scan::scan_paths(&args.logs, args.rules.as_deref(), now_ms)?;
    let key = keys.iter().find(|k| k.id == id);
    let used = scanned.successes.get(&id);
    // The name: the metadata's, else the audit log's `apikey.name`, else a failure's.
    let name = key
        .and_then(|k| k.name.clone())
        .or_else(|| used.and_then(|u| u.name.clone()))
        .or_else(|| {
            scanned
                .diagnosis
                .findings
                .iter()
                .filter(|f| f.key_id.as_deref() == Some(id.as_str()))
                .find_map(|f| f.details.key_name.clone())
        });
    let owner = key
        .and_then(|k| k.username.clone())
        .or_else(|| used.and_then(|u| u.users.iter().next().cloned()));
    let dependent = crate::diagnosis::products::recognise(
        &products,
        &id,
        name.as_deref(),
        key.and_then(|k| k.metadata.as_ref()),
        owner.as_deref(),
    );
    let mut report = crate::diagnosis::impact::assess(
        &id,
        key,
        used,
        &scanned.diagnosis,
        scanned.audit_span,
        now_ms,
        dependent,
    );
    if report.name.is_none() {
        report.name = name;
    }
    if let Some((field, value)) = report.dependent.as_ref().and_then(|d| d.related.clone()) {
        let body = related_query(&field, &value);
        match &live {
            Some((client, version)) => {
                match api::keys_with_metadata(client, &body, (&field, &value), *version) {
                    Ok(found) => {
                        report.related = found
                            .iter()
                            .filter(|k| k.id != id)
                            .map(|k| RelatedKey::of(k, now_ms))
                            .collect();
                    }
                    Err(e) => {
                        writeln!(
                            io.stderr,
                            "warning: the other keys of {field} `{value}` could not be listed: {e}"
                        )?;
                        report.related_query = Some(query_text(&body));
                    }
                }
            }
            None => report.related_query = Some(query_text(&body)),
        }
    }
    let opts = RenderOptions {
        color,
        width: width(io, args.output.width),
        curl: args.output.curl,
        full: args.output.full,
        target: super::curl_target(&args.source.cluster),
    };
    crate::report::keys::render_impact(&report, args.output.format.into(), &opts, &mut io.stdout)?;
    // Not safe to invalidate: it breaks a client, or the logs were read only in part.
    Ok(if report.breaks || report.partial {
        Outcome::Found
    } else {
        Outcome::Clean
    })
}

/// A request as Kibana's console shows it: method and path, then the pretty body.
fn query_text(body: &serde_json::Value) -> String {
    format!(
        "POST /_security/_query/api_key\n{}",
        serde_json::to_string_pretty(body).unwrap_or_default()
    )
}

pub(super) fn rotate(args: RotateArgs, color: bool, io: &mut Io<'_>) -> CmdResult {
    let now_ms = parse_now(args.source.now.as_deref())?;
    let id = key_id_of(&args.key)?;
    if let Some(e) = &args.expiration {
        if parse_time_value(e).is_none() {
            return Err(Error::Usage(format!(
                "--expiration `{e}` is not a time value (expected e.g. 90d, 720h)"
            )));
        }
    }
    let grants = args
        .add_index_privilege
        .iter()
        .map(|g| {
            IndexGrant::parse(g).ok_or_else(|| {
                Error::Usage(format!(
                    "--add-index-privilege `{g}`: expected PATTERN:PRIV[,PRIV], e.g. logs-*:read"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (keys, sources) = match source_of(&args.source, io)? {
        Source::Files(paths) => load_metadata(&paths, io)?,
        Source::Cluster(client) => {
            let info = api::info(&client)?;
            let lookup = api::key_by_id(&client, &id, info.version)?;
            for note in &lookup.notes {
                writeln!(io.stderr, "note: {}", redact(note))?;
            }
            (lookup.keys, vec![cluster_label(&client, &info)])
        }
    };
    let Some(key) = keys.iter().rev().find(|k| k.id == id) else {
        return Err(Error::Usage(format!(
            "key {id} is not in the metadata read ({}): a plan needs its descriptors",
            sources.join(", ")
        )));
    };
    let plan = plan(key, args.expiration.as_deref(), &grants, now_ms);
    let opts = RenderOptions {
        color,
        width: width(io, args.output.width),
        curl: args.output.curl,
        full: args.output.full,
        target: super::curl_target(&args.source.cluster),
    };
    render_plan(&plan, args.output.format.into(), &opts, &mut io.stdout)?;
    Ok(Outcome::Clean)
}

/// Audit events read from an index into a temporary file, named for reports.
pub(super) struct FetchedAudit {
    pub(super) file: tempfile::NamedTempFile,
    pub(super) label: String,
    pub(super) size: u64,
}

/// `--audit-index PATTERN…`: read each pattern's audit events between `since_ms` (default:
/// 30 days before `now_ms`) and `until_ms` from the `--es-url` cluster.
pub(super) fn audit_from_index(
    patterns: &[String],
    client: Option<&Client>,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
    now_ms: i64,
    io: &mut Io<'_>,
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
        writeln!(
            io.stderr,
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
        )?;
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
