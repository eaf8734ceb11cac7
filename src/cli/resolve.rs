//! Flags and environment resolved once, for every command: versions and times, the cluster's
//! client (its credentials from the environment only), the studied key.

use std::io::Write as _;
use std::time::Duration;

use super::{ClusterArgs, Io};
use crate::cluster::auth::Auth;
use crate::cluster::{api, Client, Settings};
use crate::error::Error;
use crate::model::Version;
use crate::pipeline::cluster::StudiedKey;

/// `--es-version`.
pub(super) fn version(given: Option<&str>) -> Result<Option<Version>, Error> {
    given
        .map(|v| {
            Version::parse(v).ok_or_else(|| {
                Error::Usage(format!(
                    "--es-version `{v}` is not a version (expected e.g. 8.3 or 7.17.10)"
                ))
            })
        })
        .transpose()
}

/// `--now` (`--as-of`): RFC 3339, `2026-11-20T10:15` or a date (no zone means UTC); else the
/// clock.
pub(super) fn now(given: Option<&str>) -> Result<i64, Error> {
    match given {
        Some(t) => absolute(t).ok_or_else(|| {
            Error::Usage(format!(
                "--now `{t}` is not a time (expected e.g. 2026-11-20T10:15:00Z, 2026-11-20T10:15 or 2026-11-20; no zone means UTC)"
            ))
        }),
        None => Ok(chrono::Utc::now().timestamp_millis()),
    }
}

/// An absolute time: RFC 3339, `2026-11-20T00:00`, or a date (UTC when no zone is given).
fn absolute(text: &str) -> Option<i64> {
    let t = text.trim();
    let padded = match t.len() {
        10 => format!("{t}T00:00:00"),
        16 => format!("{t}:00"),
        _ => t.to_string(),
    };
    crate::diagnosis::timeline::parse_ts(&padded)
}

/// `--since` / `--until`: a time value before `now_ms` (`2h`, `7d`, `90m`: Elasticsearch's
/// units), RFC 3339, `2026-11-20T00:00`, or a date.
pub(super) fn time_arg(flag: &str, given: Option<&str>, now_ms: i64) -> Result<Option<i64>, Error> {
    let Some(text) = given else {
        return Ok(None);
    };
    let t = text.trim();
    if let Some(ago) = crate::diagnosis::timeline::parse_time_value(t) {
        return Ok(Some(now_ms.saturating_sub(ago)));
    }
    absolute(t).map(Some).ok_or_else(|| {
            Error::Usage(format!(
                "{flag} `{text}` is not a time (expected e.g. 2h or 7d before now, 2026-11-20T00:00, 2026-11-20 or RFC 3339; no zone means UTC)"
            ))
        })
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

/// Before any file is read: the cluster given (`--es-url`, `ELASTICSEARCH_URL`) answers,
/// accepts keydoctor's credentials and says its version. A failure here is the user's to fix
/// at once (exit 2), before a long scan; `--audit-index` needs a cluster.
pub(super) fn checked_cluster(
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

/// `--with-key-env VAR`: the encoded key in `VAR`, decoded to its id (the value is never shown).
pub(super) fn studied_key(var: Option<&str>, io: &Io<'_>) -> Result<Option<StudiedKey>, Error> {
    let Some(var) = var else {
        return Ok(None);
    };
    let value = env_value(var, io)?;
    StudiedKey::decode(var, &value).map(Some).ok_or_else(|| {
        Error::Usage(format!(
            "--with-key-env {var}: the value is not an encoded API key (base64 of id:api_key); it is not shown"
        ))
    })
}

/// `explain` and `scan --with-key-env VAR`: the value is judged offline as a pasted
/// `Authorization: ApiKey` value is (raw `id:secret`, double-encoded, a newline inside, the
/// key's name or secret alone), and that judgment is put in `opts` for every failure read; when
/// the value names a key id, that key is every id-less failure's key, and the one the cluster is
/// asked about and tested with (returned). What the judgment found wrong, and a line break around
/// the value, are said on stderr (the value is not).
pub(super) fn given_key(
    var: Option<&str>,
    opts: &mut crate::diagnosis::Options,
    io: &mut Io<'_>,
) -> Result<Option<StudiedKey>, Error> {
    let Some(var) = var else {
        return Ok(None);
    };
    let value = env_value(var, io)?;
    let mut said = Vec::new();
    if value.trim() != value && value.trim_end_matches([' ', '\t']).ends_with(['\n', '\r']) {
        said.push(format!(
            "note: the value of {var} ends with a line break; a client that sends it as it is puts the break in its Authorization header, which most refuse or the server cannot read: strip it where the variable is set (keydoctor tests the value without it)"
        ));
    }
    let credential = crate::secret::Credential::given(&value);
    let studied = StudiedKey::decode(var, &value);
    if !matches!(credential.format, crate::secret::CredentialFormat::Encoded) {
        said.push(format!(
            "note: the value of {var} is not the base64 of id:api_key that an `Authorization: ApiKey` header needs ({}); the failures read are judged with that (the value is not shown)",
            credential.format.tag()
        ));
    }
    if studied.is_none() {
        said.push(format!(
            "note: the value of {var} names no key id, so no key is asked about or tested on the cluster"
        ));
    }
    print_warnings(&said, io)?;
    opts.given_credential = Some(credential);
    Ok(studied)
}

fn env_value(var: &str, io: &Io<'_>) -> Result<String, Error> {
    (io.env)(var)
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            Error::Usage(format!(
                "--with-key-env {var}: the variable is not set or empty"
            ))
        })
}

/// The pipeline's messages, on stderr.
pub(super) fn print_warnings(warnings: &[String], io: &mut Io<'_>) -> Result<(), Error> {
    for w in warnings {
        writeln!(io.stderr, "{}", crate::secret::redact(w))?;
    }
    Ok(())
}

/// Saved metadata, its warnings printed.
pub(super) fn load_metadata(
    paths: &[std::path::PathBuf],
    io: &mut super::Io<'_>,
) -> Result<(Vec<crate::pipeline::keys::KeyMetadata>, Vec<String>), Error> {
    let mut warnings = Vec::new();
    let loaded = crate::pipeline::keys::load_metadata(paths, &mut io.stdin, &mut warnings);
    print_warnings(&warnings, io)?;
    loaded
}

/// Where the metadata comes from, checked once.
pub(super) enum Source {
    Files(Vec<std::path::PathBuf>),
    Cluster(crate::cluster::Client),
}

pub(super) fn source_of(
    args: &super::MetadataArgs,
    io: &mut super::Io<'_>,
) -> Result<Source, Error> {
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

/// What the logs at `paths` show of key `id`'s granted requests (`rotate --replay`,
/// `suggest`): the audit logs' window, and what was read in part.
pub(super) fn observe(
    paths: &[std::path::PathBuf],
    rules: Option<&std::path::Path>,
    now_ms: i64,
    id: &str,
) -> Result<crate::lifecycle::replay::Observed, Error> {
    let scanned = crate::pipeline::scan::scan_paths_keeping(
        paths,
        rules,
        now_ms,
        std::slice::from_ref(&id.to_string()),
    )?;
    Ok(observed_in(&scanned, id))
}

/// What a scan that kept key `id`'s granted requests shows of them.
pub(super) fn observed_in(
    scanned: &crate::pipeline::scan::ScanReport,
    id: &str,
) -> crate::lifecycle::replay::Observed {
    let read_in_part: Vec<String> = scanned
        .diagnosis
        .skipped
        .iter()
        .map(|s| format!("{} ({})", s.source, s.reason))
        .collect();
    crate::lifecycle::replay::Observed::of(
        id,
        scanned.successes.get(id),
        scanned.audit_span,
        &read_in_part,
    )
}

/// The replacement's role descriptors from `path`: the object itself, or a create body's
/// `role_descriptors`.
pub(super) fn read_descriptors(path: &std::path::Path) -> Result<serde_json::Value, Error> {
    let text = crate::source::read_small_text(path)
        .map_err(|e| Error::Usage(format!("--role-descriptors {}: {e}", path.display())))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        Error::Usage(format!(
            "--role-descriptors {}: not JSON ({e})",
            path.display()
        ))
    })?;
    let descriptors = value.get("role_descriptors").cloned().unwrap_or(value);
    let well_formed = descriptors
        .as_object()
        .is_some_and(|m| !m.is_empty() && m.values().all(serde_json::Value::is_object));
    if !well_formed {
        return Err(Error::Usage(format!(
            "--role-descriptors {}: expected an object of named role descriptors, e.g. {{\"writer\": {{\"indices\": [{{\"names\": [\"logs-*\"], \"privileges\": [\"create_doc\"]}}]}}}} (an empty one would give the replacement all of its owner's privileges)",
            path.display()
        )));
    }
    Ok(descriptors)
}
