//! `keydoctor doctor`: ask the cluster the read-only questions and check the answers.

use super::resolve::{cluster_client, now as parse_now};
use super::{CmdResult, DoctorArgs, Io};
use crate::checks::doctor::{examine, ClusterFacts};
use crate::cluster::{api, ClusterError};
use crate::diagnosis::timeline::parse_time_value;
use crate::error::Error;
use crate::pipeline::cluster::label as cluster_label;
use crate::report::doctor::render_doctor;

/// Why a part of the checks could not be done, in words for the check line.
fn unavailable(e: &ClusterError, what: &str) -> String {
    match e {
        ClusterError::Forbidden { .. } => {
            format!("not checked: keydoctor's credentials may not {what}")
        }
        other => format!("not checked: {other}"),
    }
}

/// "user elastic (realm reserved)" / "API key ab12 (name tool) of user ops (realm native1)".
fn whoami(body: &serde_json::Value) -> Option<String> {
    let user = body.get("username")?.as_str()?;
    let realm = body
        .pointer("/authentication_realm/name")
        .and_then(serde_json::Value::as_str)
        .filter(|r| !r.starts_with('_'))
        .map(|r| format!(" (realm {r})"))
        .unwrap_or_default();
    match body
        .pointer("/api_key/id")
        .and_then(serde_json::Value::as_str)
    {
        Some(id) => {
            let name = body
                .pointer("/api_key/name")
                .and_then(serde_json::Value::as_str)
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            Some(format!("API key {id}{name} of user {user}{realm}"))
        }
        None => Some(format!("user {user}{realm}")),
    }
}

pub(super) fn run(args: DoctorArgs, color: bool, io: &mut Io<'_>) -> CmdResult {
    let now_ms = parse_now(args.now.as_deref())?;
    let (rules, _) = crate::rule::load(args.rules.as_deref())?;
    let suppressions = super::suppressions_of(args.config.as_ref(), args.no_config)?;
    let within_ms = parse_time_value(&args.within).ok_or_else(|| {
        Error::Usage(format!(
            "--within `{}` is not a time value (expected e.g. 14d, 36h, 90m)",
            args.within
        ))
    })?;
    let client = cluster_client(&args.cluster, io)?.ok_or_else(|| {
        Error::Usage(
            "doctor checks a live cluster: --es-url URL (or ELASTICSEARCH_URL), with credentials in ES_API_KEY or ES_USERNAME and ES_PASSWORD".into(),
        )
    })?;
    // The first call decides whether the cluster can be talked to at all.
    let info = api::info(&client)?;
    let facts = ClusterFacts {
        label: cluster_label(&client, &info),
        https: client.url().scheme() == "https",
        version: info.version,
        whoami: api::authenticate(&client).as_ref().and_then(whoami),
        security: api::security_usage(&client)
            .map(|u| (u.call.to_string(), u.security))
            .map_err(|e| {
                unavailable(
                    &e,
                    "read GET /_xpack/usage (it needs the monitor cluster privilege)",
                )
            }),
        keys: api::active_keys(&client, info.version)
            .map(|l| (l.keys, l.notes))
            .map_err(|e| {
                unavailable(
                    &e,
                    "list API keys (manage_api_key lists all; manage_own_api_key only its own)",
                )
            }),
        remote_info: api::remote_info(&client).map_err(|e| {
            unavailable(
                &e,
                "read GET /_remote/info (it needs the monitor cluster privilege)",
            )
        }),
        settings: api::cluster_settings(&client).map_err(|e| {
            unavailable(
                &e,
                "read GET /_cluster/settings (it needs the monitor cluster privilege)",
            )
        }),
        now_ms,
        within: args.within.clone(),
        within_ms,
    };
    let mut report = examine(&facts, &rules);
    if let Some(s) = &suppressions {
        crate::diagnosis::suppress::apply(&mut report.diagnosis, s, now_ms);
    }
    match args.output.format {
        super::FormatArg::Nagios => {
            let state = crate::report::monitor::doctor_nagios(&report, &mut io.stdout)?;
            return Ok(crate::error::Outcome::Monitor(state));
        }
        super::FormatArg::Openmetrics => {
            crate::report::monitor::doctor_openmetrics(&report, now_ms, &mut io.stdout)?;
            return Ok(crate::error::Outcome::Clean);
        }
        _ => {}
    }
    let opts = super::render_options(&args.output, &args.cluster, color, io);
    render_doctor(
        &report,
        now_ms,
        args.output.format.document()?,
        &opts,
        &mut io.stdout,
    )?;
    Ok(args.exit.outcome(&report.diagnosis))
}
