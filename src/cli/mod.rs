//! The command line: clap arguments → a resolved configuration → a command → an exit code.
//! Everything is written through the writers in [`Io`]; nothing here prints directly.

mod can;
mod doctor;
mod expiring;
mod explain;
mod impact;
mod key;
mod progress;
mod resolve;
mod rotate;
mod rules;
mod scan;
mod shell;
mod suggest;

use std::ffi::OsString;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use miette::{GraphicalReportHandler, GraphicalTheme};

use crate::error::{exit_code, Error, Outcome};
use crate::report::atomic::AtomicFile;
use crate::report::redacting::Redacting;
use crate::report::terminal::{Allow, ControlGuard};
use crate::report::{render, FindingsFormat, Format, RenderOptions};

/// How the CLI reads its environment (injected so tests control it).
pub type EnvLookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// Standard streams and what they are connected to, injected so tests can run in process.
pub struct Io<'a> {
    pub stdin: Box<dyn Read + 'a>,
    pub stdout: Box<dyn Write + 'a>,
    pub stderr: Box<dyn Write + 'a>,
    pub stdin_is_terminal: bool,
    pub stdout_is_terminal: bool,
    pub stderr_is_terminal: bool,
    /// Environment lookup (`NO_COLOR`, `CLICOLOR_FORCE`, `COLUMNS`).
    pub env: EnvLookup<'a>,
    /// The width of the terminal stdout is, when it is one and says.
    pub terminal_width: Option<usize>,
}

impl<'a> Io<'a> {
    /// The process's real streams. `KEYDOCTOR_TEST_TTY=stdin,stdout,stderr` pretends those are
    /// terminals (CI has none; see the style guide's test hook).
    pub fn real(
        stdin: impl Read + IsTerminal + 'a,
        stdout: impl Write + IsTerminal + 'a,
        stderr: impl Write + IsTerminal + 'a,
    ) -> Self {
        let pretend = std::env::var("KEYDOCTOR_TEST_TTY").unwrap_or_default();
        let pretend = |name: &str| pretend.split(',').any(|p| p.trim() == name);
        Self {
            stdin_is_terminal: stdin.is_terminal() || pretend("stdin"),
            terminal_width: if stdout.is_terminal() {
                terminal_width_of_stdout()
            } else {
                None
            },
            stdout_is_terminal: stdout.is_terminal() || pretend("stdout"),
            stderr_is_terminal: stderr.is_terminal() || pretend("stderr"),
            stdin: Box::new(stdin),
            stdout: Box::new(stdout),
            stderr: Box::new(stderr),
            env: Box::new(|name| std::env::var(name).ok()),
        }
    }
}

/// The columns of the terminal on stdout, from the terminal itself (`TIOCGWINSZ`); `None` when
/// it does not say (0 columns, a serial line).
fn terminal_width_of_stdout() -> Option<usize> {
    terminal_size::terminal_size_of(std::io::stdout())
        .map(|(terminal_size::Width(w), _)| usize::from(w))
        .filter(|w| *w > 0)
}

/// Explains why an Elasticsearch API key stopped working, and what to do now.
#[derive(Debug, Parser)]
#[command(
    name = "keydoctor",
    version,
    about,
    after_help = "Exit codes: 0 no finding; 1 at least one finding (or a failing rule check); 2 usage, input or rule-file error."
)]
struct Cli {
    /// When to use colours: auto honours NO_COLOR, CLICOLOR_FORCE and whether stdout is a terminal.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    color: ColorChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Explain pasted error output: Elasticsearch error bodies, client exceptions, agent, server
    /// and audit log lines, curl output, key metadata.
    #[command(
        after_help = "Examples:\n  keydoctor explain                          paste the error, then Ctrl-D\n  keydoctor explain error.txt                a saved error, client log or curl -v output\n  kubectl logs deploy/logstash | keydoctor explain\n  keydoctor explain error.txt --metadata keys.json --es-version 8.15\n                                             joined with GET /_security/api_key's answer\n  keydoctor explain error.txt --share        Markdown with pseudonyms, for a ticket"
    )]
    Explain(ExplainArgs),
    /// Scan log files and directories (server, audit, Logstash, Beats, Agent, Kibana logs,
    /// rotated .gz, key metadata): which API keys fail, why, since when, and who did it.
    #[command(
        after_help = "Examples:\n  keydoctor scan /var/log/elasticsearch\n  keydoctor scan api-diagnostics-20261120-101500.zip --now 2026-11-20T10:15\n                                             a support bundle, as of when it was taken\n  keydoctor scan logs/ --since 2h --class invalidated --key VuaCfGcBCdbkQm-e5aOx\n  keydoctor scan logs/ --follow              keep watching, print new findings\n  keydoctor scan prod/ --remote-logs remote/ both sides of a cross-cluster setup\n  keydoctor scan bundle.zip --format html -o incident.html --share\n                                             one page for the ticket, timelines included\n  keydoctor scan logs/ --format ecs -o findings.ndjson\n                                             ECS lines for Filebeat or _bulk (README: ECS)"
    )]
    Scan(ScanArgs),
    /// What the key metadata says about one key: state, dates, owner, privileges. Takes a key
    /// id or an encoded credential (only its id is used or shown).
    #[command(
        after_help = "Examples:\n  keydoctor key VuaCfGcBCdbkQm-e5aOx --metadata api_keys.json\n  ES_API_KEY=… keydoctor key VuaCfGcBCdbkQm-e5aOx --es-url https://localhost:9200"
    )]
    Key(KeyArgs),
    /// Can this key make this request? Evaluates the key's role descriptors and its owner's
    /// snapshot (limited_by) with the privilege atlas for the cluster's version, offline: which
    /// side denies, the entry that decided, the smallest patch. Exit 0 allowed, 1 denied, 3
    /// undecidable (a fact is missing: the answer says which and how to get it).
    #[command(
        after_help = "Examples:\n  keydoctor can VuaCfGcBCdbkQm-e5aOx 'POST /logs-app-default/_bulk' --metadata api_keys.json --es-version 8.15\n  keydoctor can VuaCfGcBCdbkQm-e5aOx 'indices:data/read/search remote1:logs-*' --metadata keys.json\n  keydoctor can VuaCfGcBCdbkQm-e5aOx 'GET /' --es-url https://localhost:9200 --explain\n\nThe metadata must hold limited_by: GET /_security/api_key?id=ID&with_limited_by=true (8.5+)."
    )]
    Can(CanArgs),
    /// Least privilege from observed use: the smallest role descriptors that allow every
    /// request the audit logs show the key was granted in their window, and the privileges it
    /// holds but never used there. Exit 0, or 3 when the logs cannot show its use.
    #[command(
        after_help = "Examples:\n  keydoctor suggest Lg5HsK8pQw2eRt7yUi4o --logs /var/log/elasticsearch/ --metadata api_keys.json\n  keydoctor suggest Lg5HsK8pQw2eRt7yUi4o --logs audit/ --es-version 8.15 --format json | jq .role_descriptors > least.json\n  keydoctor rotate Lg5HsK8pQw2eRt7yUi4o --role-descriptors least.json --replay audit/ --metadata api_keys.json\n\nAudit logs show granted requests when access_granted is audited (the default event list has it)."
    )]
    Suggest(SuggestArgs),
    /// Keys expiring within a window (and keys that never expire), for cron and alerting:
    /// exit 1 when any, or when a key has already expired.
    #[command(
        after_help = "Examples:\n  keydoctor expiring --within 14d --es-url https://localhost:9200\n  keydoctor expiring --metadata api_keys.json --include-no-expiry --logs audit/\n                                             with each key's last use"
    )]
    Expiring(ExpiringArgs),
    /// A rotation plan for one key: create the replacement (its descriptors and metadata
    /// copied, a fresh expiration), deploy, verify, and only then invalidate the old key.
    #[command(
        after_help = "Examples:\n  keydoctor rotate VuaCfGcBCdbkQm-e5aOx --metadata api_keys.json --expiration 90d\n  keydoctor rotate VuaCfGcBCdbkQm-e5aOx --es-url https://localhost:9200 --curl\n  keydoctor rotate VuaCfGcBCdbkQm-e5aOx --metadata api_keys.json --role-descriptors narrower.json --replay audit/\n                                             every request the old key made that the replacement would be denied"
    )]
    Rotate(RotateArgs),
    /// Before invalidating a key: who uses it (audit logs), who fails with it, and the safe
    /// order of steps.
    #[command(
        after_help = "Examples:\n  keydoctor impact VuaCfGcBCdbkQm-e5aOx --logs /var/log/elasticsearch/\n  keydoctor impact VuaCfGcBCdbkQm-e5aOx --logs audit/ --metadata api_keys.json"
    )]
    Impact(ImpactArgs),
    /// Check a live cluster: security, TLS and the API key service on, keys that never expire
    /// or expire soon, remote clusters set up for API keys (sniff vs proxy, ports, credentials).
    #[command(
        after_help = "Examples:\n  ES_API_KEY=… keydoctor doctor --es-url https://localhost:9200\n  keydoctor doctor --es-url https://es.internal:9200 --ca-cert ca.pem --within 30d"
    )]
    Doctor(DoctorArgs),
    /// Inspect and test rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Print the shell completion script: `keydoctor completions bash > ~/.local/share/bash-completion/completions/keydoctor`.
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page keydoctor(1) in roff (`keydoctor man | man -l -`), or write one page
    /// per command into a directory.
    Man {
        /// Write keydoctor.1 and keydoctor-<command>.1 into this directory instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct DoctorArgs {
    /// Keys expiring within this window are findings (a time value: 14d, 36h).
    #[arg(
        long,
        value_name = "TIME",
        default_value = "14d",
        help_heading = "Input"
    )]
    within: String,
    /// Add check rules from this directory (checks/<id>.toml); same ids override.
    #[arg(long, value_name = "DIR", help_heading = "Rules and suppressions")]
    rules: Option<PathBuf>,
    /// Suppressions to apply, by rule, key or class (default: ./.keydoctor.toml when there is
    /// one): a key known to never expire, with the reason.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "no_config",
        help_heading = "Rules and suppressions"
    )]
    config: Option<PathBuf>,
    /// Ignore ./.keydoctor.toml.
    #[arg(long, help_heading = "Rules and suppressions")]
    no_config: bool,
    #[command(flatten)]
    cluster: ClusterArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    exit: ExitArgs,
    /// Analyse as of this instant instead of the clock (an old support bundle: the time it was
    /// taken): expiry, retention and relative times count from it. RFC 3339, 2026-11-20T10:15
    /// or a date; no zone means UTC.
    #[arg(
        long,
        visible_alias = "as-of",
        value_name = "TIME",
        help_heading = "Input"
    )]
    now: Option<String>,
}

#[derive(Debug, Args)]
struct RotateArgs {
    /// A key id, or an encoded credential (base64 of id:secret; the secret is never shown).
    #[arg(value_name = "ID_OR_ENCODED")]
    key: String,
    /// The replacement's lifetime (a time value, e.g. 90d); default: the old key's, else 90d.
    #[arg(long, value_name = "TIME", help_heading = "Replacement")]
    expiration: Option<String>,
    /// Add an index privilege to the replacement: PATTERN:PRIV[,PRIV] (patterns joined by |);
    /// repeatable. The plan shows the change as a diff.
    #[arg(
        long = "add-index-privilege",
        value_name = "PATTERN:PRIVS",
        help_heading = "Replacement"
    )]
    add_index_privilege: Vec<String>,
    /// The replacement's role descriptors instead of the old key's: a JSON file holding them
    /// (`{"NAME": {"indices": [...]}}`) or a create body with `role_descriptors`.
    #[arg(long, value_name = "FILE", help_heading = "Replacement")]
    role_descriptors: Option<PathBuf>,
    /// Replay the old key's granted requests from these audit logs (files, trees, bundles,
    /// repeatable) against the replacement, and list every one it would be denied, before
    /// anything is invalidated (exit 1 when one would break or cannot be judged).
    #[arg(long, value_name = "LOGS", help_heading = "Replacement")]
    replay: Vec<PathBuf>,
    /// The Elasticsearch version the replay evaluates for (default: the cluster's with
    /// --es-url, else the newest the privilege atlas describes).
    #[arg(long, value_name = "VERSION", help_heading = "Replacement")]
    es_version: Option<String>,
    /// Add snippets (snippets.toml, whose `rotate-key` the plan is made of) and rules from this
    /// directory; same ids override.
    #[arg(long, value_name = "DIR", help_heading = "Rules and suppressions")]
    rules: Option<PathBuf>,
    #[command(flatten)]
    source: MetadataArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Args)]
struct CanArgs {
    /// A key id, or an encoded credential (base64 of id:secret; the secret is never shown).
    #[arg(value_name = "ID_OR_ENCODED")]
    key: String,
    /// The request: a REST call (`POST /logs-app-default/_bulk`, `GET /`) or an action and its
    /// targets (`indices:data/read/search logs-*,remote1:logs-*`); quote it as one argument.
    #[arg(value_name = "REQUEST")]
    request: String,
    /// The Elasticsearch version to evaluate for (default: the cluster's with --es-url, else the
    /// newest the atlas describes, said in the answer).
    #[arg(long, value_name = "VERSION")]
    es_version: Option<String>,
    /// Show every descriptor entry looked at and what it decided.
    #[arg(long)]
    explain: bool,
    /// Confirm the answer on the cluster (--es-url): the environment variable holding this
    /// key's encoded value, sent only with `POST /_security/user/_has_privileges`, for each
    /// local target (the cluster's answer decides the exit status). Never printed.
    #[arg(long, value_name = "VAR")]
    with_key_env: Option<String>,
    #[command(flatten)]
    source: MetadataArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Args)]
struct SuggestArgs {
    /// A key id, or an encoded credential (base64 of id:secret; the secret is never shown).
    #[arg(value_name = "ID_OR_ENCODED")]
    key: String,
    /// Audit logs to learn from (files, trees, bundles), repeatable.
    #[arg(
        long = "logs",
        value_name = "PATH",
        required = true,
        help_heading = "Input"
    )]
    logs: Vec<PathBuf>,
    /// The Elasticsearch version whose privileges to suggest (default: the cluster's with
    /// --es-url, else the newest the privilege atlas describes).
    #[arg(long, value_name = "VERSION")]
    es_version: Option<String>,
    /// Key metadata (optional): with the key's descriptors, the privileges it never used are
    /// listed too.
    #[command(flatten)]
    source: MetadataArgs,
    /// Add rules from this directory.
    #[arg(long, value_name = "DIR", help_heading = "Rules and suppressions")]
    rules: Option<PathBuf>,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Args)]
struct KeyArgs {
    /// A key id, or an encoded credential (base64 of id:secret; the secret is never shown).
    #[arg(value_name = "ID_OR_ENCODED")]
    key: String,
    #[command(flatten)]
    source: MetadataArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Args)]
struct ImpactArgs {
    /// A key id, or an encoded credential (base64 of id:secret; the secret is never shown).
    #[arg(value_name = "ID_OR_ENCODED")]
    key: String,
    /// Logs to read (audit logs above all: they show each successful use), repeatable.
    #[arg(
        long = "logs",
        value_name = "PATH",
        required = true,
        help_heading = "Input"
    )]
    logs: Vec<PathBuf>,
    /// Key metadata (optional): a saved GET /_security/api_key response, or --es-url.
    #[command(flatten)]
    source: MetadataArgs,
    /// A replacement's role descriptors (a JSON file, or a create body with
    /// `role_descriptors`): the key's granted requests in the logs are replayed against them,
    /// and every one they would deny is listed.
    #[arg(long, value_name = "FILE", help_heading = "Replacement")]
    role_descriptors: Option<PathBuf>,
    /// The Elasticsearch version the replay evaluates for (default: the cluster's with
    /// --es-url, else the newest the privilege atlas describes).
    #[arg(long, value_name = "VERSION", help_heading = "Replacement")]
    es_version: Option<String>,
    /// Add rules, and products (products.toml), from this directory.
    #[arg(long, value_name = "DIR", help_heading = "Rules and suppressions")]
    rules: Option<PathBuf>,
    #[command(flatten)]
    output: OutputArgs,
}

/// Where key metadata comes from: saved responses, or the cluster itself.
#[derive(Debug, Args)]
struct MetadataArgs {
    /// Key metadata to read: a saved response of GET /_security/api_key or
    /// POST /_security/_query/api_key (repeatable).
    #[arg(
        long = "metadata",
        value_name = "FILE",
        conflicts_with = "es_url",
        help_heading = "Input"
    )]
    metadata: Vec<PathBuf>,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Analyse as of this instant instead of the clock (an old support bundle: the time it was
    /// taken): expiry, retention and relative times count from it. RFC 3339, 2026-11-20T10:15
    /// or a date; no zone means UTC.
    #[arg(
        long,
        visible_alias = "as-of",
        value_name = "TIME",
        help_heading = "Input"
    )]
    now: Option<String>,
}

/// How to reach a live cluster. Credentials come from the environment only: ES_API_KEY (an
/// encoded API key) or ES_USERNAME and ES_PASSWORD.
#[derive(Debug, Args)]
#[command(next_help_heading = "Cluster (credentials: ES_API_KEY, or ES_USERNAME and ES_PASSWORD)")]
struct ClusterArgs {
    /// The cluster's HTTP endpoint (default: $ELASTICSEARCH_URL). Only read-only calls are made.
    #[arg(long, value_name = "URL")]
    es_url: Option<String>,
    /// PEM file with the CA that signed the cluster's HTTP certificate.
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// Do not verify the cluster's certificate (credentials are then exposed to anyone on the path).
    #[arg(long)]
    insecure: bool,
    /// Allow sending credentials over http:// to a host other than this machine.
    #[arg(long)]
    allow_plain_http: bool,
    /// Seconds to wait for each answer (1 to 86400).
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    timeout: u64,
}

#[derive(Debug, Args)]
struct ExpiringArgs {
    /// The window: an Elasticsearch time value (14d, 36h, 90m).
    #[arg(
        long,
        value_name = "TIME",
        default_value = "14d",
        help_heading = "Input"
    )]
    within: String,
    /// Also list the keys that never expire (a risk: nothing makes them rotate); they then
    /// count for the exit status.
    #[arg(long, help_heading = "Input")]
    include_no_expiry: bool,
    /// With --format nagios: WARNING when a key expires within this (default: --within).
    #[arg(long, value_name = "TIME", help_heading = "Monitoring")]
    warn: Option<String>,
    /// With --format nagios: CRITICAL when a key expires within this, or has expired [default:
    /// 3d].
    #[arg(long, value_name = "TIME", help_heading = "Monitoring")]
    crit: Option<String>,
    /// Also scan these logs (audit logs above all: `access_granted` and
    /// `authentication_success` carry the key id) for each key's last use: when, how often,
    /// from which clients, as whom (repeatable).
    #[arg(long = "logs", value_name = "PATH", help_heading = "Input")]
    logs: Vec<PathBuf>,
    #[command(flatten)]
    source: MetadataArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Args)]
struct ScanArgs {
    /// Files and directories to scan (directories recursively).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Follow symbolic links (loops are detected and reported).
    #[arg(long, help_heading = "Input")]
    follow_links: bool,
    /// The fulfilling (remote) cluster's logs, support bundle or saved API answers (repeatable):
    /// PATHs are then the querying cluster's, and cross-cluster symptoms are paired across the
    /// two, saying which side is silent.
    #[arg(long = "remote-logs", value_name = "PATH", help_heading = "Input")]
    remote_logs: Vec<PathBuf>,
    /// The fulfilling cluster's alias on the querying cluster (default: inferred from a key
    /// both sides name, `_remote/info`, or the only alias in the logs).
    #[arg(
        long = "remote-alias",
        value_name = "ALIAS",
        requires = "remote_logs",
        help_heading = "Input"
    )]
    remote_alias: Option<String>,
    /// Keep watching the files (like tail -F, across rotation) and print new findings and
    /// growing counts as they appear; stop with Ctrl-C.
    #[arg(long, help_heading = "Input")]
    follow: bool,
    /// No progress bar.
    #[arg(long, short, help_heading = "Output")]
    quiet: bool,
    /// Only failures at or after this time: a time value before now (2h, 7d, 90m; now is --now
    /// when given), 2026-11-20T00:00, 2026-11-20 or RFC 3339.
    #[arg(long, value_name = "TIME", help_heading = "Filters")]
    since: Option<String>,
    /// Only failures at or before this time (the same forms as --since).
    #[arg(long, value_name = "TIME", help_heading = "Filters")]
    until: Option<String>,
    /// Only findings about this key id (repeatable).
    #[arg(long = "key", value_name = "ID", help_heading = "Filters")]
    keys: Vec<String>,
    /// Only findings of this class (repeatable), e.g. invalidated, under_privileged.
    #[arg(long = "class", value_name = "CLASS", help_heading = "Filters")]
    classes: Vec<String>,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    diagnosis: DiagnosisArgs,
    /// With --follow: milliseconds between polls.
    #[arg(long, hide = true, default_value_t = 1000)]
    poll_ms: u64,
    /// With --follow: stop after this many polls (tests).
    #[arg(long, hide = true)]
    max_polls: Option<u64>,
}

#[derive(Debug, Args)]
struct ExplainArgs {
    /// Files to read; `-` is standard input (the default when none is given).
    files: Vec<PathBuf>,
    #[command(flatten)]
    diagnosis: DiagnosisArgs,
    #[command(flatten)]
    output: OutputArgs,
}

/// What a diagnosis needs besides its inputs (explain and scan).
#[derive(Debug, Args)]
struct DiagnosisArgs {
    /// Key metadata to join with the failures: a saved response of GET /_security/api_key or
    /// POST /_security/_query/api_key (repeatable).
    #[arg(long = "metadata", value_name = "FILE", help_heading = "Input")]
    metadata: Vec<PathBuf>,
    /// Ask the cluster about each finding's key (--es-url), to confirm or contradict it.
    #[command(flatten)]
    cluster: ClusterArgs,
    /// The environment variable holding the failing client's encoded key: its id is the key of
    /// every failure whose text names none, and the cluster is asked about it. The value is
    /// never printed.
    #[arg(long, value_name = "VAR", help_heading = "Input")]
    with_key_env: Option<String>,
    /// Also read the audit events shipped into these indices of the --es-url cluster (an index
    /// pattern, repeatable): failures, denials, key creation, changes and invalidations since
    /// --since (scan; default: the last 30 days).
    #[arg(
        long = "audit-index",
        value_name = "PATTERN",
        help_heading = "Cluster (credentials: ES_API_KEY, or ES_USERNAME and ES_PASSWORD)"
    )]
    audit_index: Vec<String>,
    /// Add rules from this directory (laid out as <class>/<id>.toml); same ids override.
    #[arg(long, value_name = "DIR", help_heading = "Rules and suppressions")]
    rules: Option<PathBuf>,
    /// The cluster's Elasticsearch version, for version-aware remediation (e.g. 8.3).
    #[arg(long, value_name = "VERSION", help_heading = "Input")]
    es_version: Option<String>,
    /// Analyse as of this instant instead of the clock (an old support bundle: the time it was
    /// taken): expiry, retention and relative times count from it. RFC 3339, 2026-11-20T10:15
    /// or a date; no zone means UTC.
    #[arg(
        long,
        visible_alias = "as-of",
        value_name = "TIME",
        help_heading = "Input"
    )]
    now: Option<String>,
    /// The cluster's xpack.security.authc.api_key.delete.retention_period, when not the default
    /// 7d: how long an expired or invalidated key is kept before it is deleted (a time value).
    #[arg(long, value_name = "TIME", help_heading = "Input")]
    retention_period: Option<String>,
    /// Suppressions to apply (default: ./.keydoctor.toml when there is one).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "no_config",
        help_heading = "Rules and suppressions"
    )]
    config: Option<PathBuf>,
    /// Ignore ./.keydoctor.toml.
    #[arg(long, help_heading = "Rules and suppressions")]
    no_config: bool,
    /// Build at most this many findings in full, the most frequent first; the rest are counted
    /// by class in the report (a log probed with millions of random key ids stays readable and
    /// memory stays bounded). 0: no cap.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1000,
        help_heading = "Tuning"
    )]
    max_findings: usize,
    /// A Markdown report for a ticket (the HTML page with --format html): credentials as key
    /// ids, host names, node names and client addresses as consistent pseudonyms; refused if
    /// anything still looks like a secret.
    #[arg(long, help_heading = "Output")]
    share: bool,
    #[command(flatten)]
    exit: ExitArgs,
}

/// Render `d` as asked: `--share` (the Markdown report, or the HTML page with `--format
/// html`, with pseudonyms, checked) or `format`.
fn output(
    d: &crate::diagnosis::Diagnosis,
    share: bool,
    format: FindingsFormat,
    opts: &RenderOptions,
    io: &mut Io<'_>,
) -> Result<(), Error> {
    if !share {
        render(d, format, opts, &mut io.stdout)?;
        return Ok(());
    }
    let shared_format = match format {
        FindingsFormat::Html => FindingsFormat::Html,
        FindingsFormat::Document(Format::Human | Format::Markdown) => {
            FindingsFormat::Document(Format::Markdown)
        }
        other => {
            return Err(Error::Usage(format!(
                "--share writes Markdown, or HTML with --format html; not --format {}",
                match other {
                    FindingsFormat::Ecs => "ecs",
                    _ => "json",
                }
            )))
        }
    };
    let mut text = Vec::new();
    render(d, shared_format, opts, &mut text)?;
    let text = String::from_utf8_lossy(&text);
    let shared = match shared_format {
        FindingsFormat::Html => crate::report::share::share_html(&text, d),
        _ => crate::report::share::share(&text, d),
    }
    .map_err(|problems| Error::ShareRefused {
        problems: problems.join("; "),
    })?;
    io.stdout.write_all(shared.as_bytes())?;
    Ok(())
}

/// When findings make the exit status 1 (explain, scan, doctor).
#[derive(Debug, Args)]
#[command(next_help_heading = "Exit status")]
struct ExitArgs {
    /// Exit 1 only for a finding of at least this severity: error, warning or note (any).
    #[arg(long, value_name = "SEVERITY", default_value = "note", value_parser = ["error", "warning", "note"])]
    fail_on: String,
    /// Exit 0 whatever is found (usage, input and cluster errors still exit 2).
    #[arg(long)]
    exit_zero: bool,
}

impl ExitArgs {
    /// The outcome for these findings: `Found` (exit 1) only for one at or above --fail-on.
    fn outcome(&self, d: &crate::diagnosis::Diagnosis) -> Outcome {
        let floor =
            crate::model::Severity::parse(&self.fail_on).unwrap_or(crate::model::Severity::Note);
        // Severity orders error < warning < note: "at least" is "at most" in that order.
        if !self.exit_zero && d.findings.iter().any(|f| f.severity <= floor) {
            Outcome::Found
        } else {
            Outcome::Clean
        }
    }
}

/// The retention period given, else the default.
fn retention(args: &DiagnosisArgs) -> Result<crate::diagnosis::differential::Retention, Error> {
    match &args.retention_period {
        None => Ok(crate::diagnosis::differential::Retention::default()),
        Some(t) => crate::diagnosis::timeline::parse_time_value(t)
            .map(|ms| crate::diagnosis::differential::Retention {
                ms,
                text: format!("{t} (--retention-period)"),
            })
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--retention-period `{t}`: not a time value (e.g. 7d, 36h)"
                ))
            }),
    }
}

/// The suppressions of `--config FILE`, else of ./.keydoctor.toml when present.
fn load_suppressions(
    args: &DiagnosisArgs,
) -> Result<Option<crate::diagnosis::suppress::Suppressions>, Error> {
    suppressions_of(args.config.as_ref(), args.no_config)
}

/// The suppressions of `config`, else of ./.keydoctor.toml when present and not `no_config`.
fn suppressions_of(
    config: Option<&PathBuf>,
    no_config: bool,
) -> Result<Option<crate::diagnosis::suppress::Suppressions>, Error> {
    let path = match (config, no_config) {
        (Some(p), _) => p.clone(),
        (None, true) => return Ok(None),
        (None, false) => {
            let p = PathBuf::from(".keydoctor.toml");
            if !p.is_file() {
                return Ok(None);
            }
            p
        }
    };
    let file = path.display().to_string();
    let text = crate::source::read_small_text(&path).map_err(|e| Error::Config {
        file: file.clone(),
        problems: e,
    })?;
    crate::diagnosis::suppress::parse_config(&text, &file)
        .map_err(|problems| Error::Config {
            file: file.clone(),
            problems: problems
                .iter()
                .map(|p| format!("line {}: {}", p.line, p.message))
                .collect::<Vec<_>>()
                .join("; "),
        })
        .map(Some)
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
struct OutputArgs {
    /// Report format: human, json or markdown; explain and scan also html (one self-contained
    /// page with each key's timeline) and ecs (an Elastic Common Schema document per finding per
    /// line); expiring and doctor also nagios (a monitoring plugin's output and exit status) and
    /// openmetrics (for Prometheus' textfile collector).
    #[arg(long, value_enum, default_value_t = FormatArg::Human, hide_possible_values = true)]
    format: FormatArg,
    /// Also show every request as a curl command.
    #[arg(long)]
    curl: bool,
    /// The whole human report of each finding: what it means, every detail, causes considered,
    /// timeline, dead ends, references (by default: the one screen to act on).
    #[arg(long)]
    full: bool,
    /// Wrap the human report at this width (default: the terminal's width, else $COLUMNS, else 80).
    #[arg(long, value_name = "N")]
    width: Option<usize>,
    /// Write the report to FILE instead of stdout, replacing it whole when the run ends (a temp
    /// file beside it, renamed over it): a reader never sees half a report, and a failed run
    /// leaves the old one.
    #[arg(long = "output", short = 'o', value_name = "FILE")]
    output_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FormatArg {
    Human,
    Json,
    Markdown,
    /// The Nagios plugin contract (expiring, doctor): `STATE: text | perfdata`, exit 0-3.
    Nagios,
    /// OpenMetrics text for the Prometheus textfile collector (expiring, doctor).
    Openmetrics,
    /// One self-contained HTML page with each key's timeline (explain, scan).
    Html,
    /// One Elastic Common Schema document per finding, per line (explain, scan).
    Ecs,
}

impl FormatArg {
    fn name(self) -> &'static str {
        match self {
            FormatArg::Human => "human",
            FormatArg::Json => "json",
            FormatArg::Markdown => "markdown",
            FormatArg::Nagios => "nagios",
            FormatArg::Openmetrics => "openmetrics",
            FormatArg::Html => "html",
            FormatArg::Ecs => "ecs",
        }
    }

    /// The format of a findings report (explain, scan).
    fn findings(self) -> Result<crate::report::FindingsFormat, Error> {
        use crate::report::FindingsFormat;
        match self {
            FormatArg::Html => Ok(FindingsFormat::Html),
            FormatArg::Ecs => Ok(FindingsFormat::Ecs),
            other => other.document().map(FindingsFormat::Document),
        }
    }

    /// The document format of a report; a monitoring format is not one (`expiring` and
    /// `doctor` render those themselves, and `run` refuses them for other commands first).
    fn document(self) -> Result<Format, Error> {
        match self {
            FormatArg::Human => Ok(Format::Human),
            FormatArg::Json => Ok(Format::Json),
            FormatArg::Markdown => Ok(Format::Markdown),
            other => Err(Error::Usage(format!(
                "--format {} is not a format of this command",
                other.name()
            ))),
        }
    }
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// List the rules (embedded, plus --rules DIR).
    List {
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
        /// human or json.
        #[arg(long, value_enum, default_value_t = ListFormat::Human)]
        format: ListFormat,
    },
    /// Show one rule: its patterns, texts and examples.
    Show {
        id: String,
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
    },
    /// Run every rule's embedded examples (embedded rules plus DIR); exit 1 on any failure.
    Test {
        dir: Option<PathBuf>,
        /// Only the rules whose id matches this regex.
        #[arg(long, value_name = "REGEX")]
        filter: Option<String>,
        /// Also write the results as JUnit XML (one test case per example) for CI.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
    },
    /// Check rule files (embedded plus DIR): every problem with file, line and field, and rules
    /// another rule shadows; exit 2 on any error.
    Lint { dir: Option<PathBuf> },
    /// Print the literals `scan` prefilters on, one per line (for benchmarks against grep).
    #[command(hide = true)]
    Literals {
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ListFormat {
    Human,
    Json,
}

/// Run keydoctor with `args`; the only place a result becomes an exit code.
pub fn run(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    io: &mut Io<'_>,
) -> ExitCode {
    let parsed = command()
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(err) => {
            let rendered = if io.stderr_is_terminal {
                err.render().ansi().to_string()
            } else {
                err.render().to_string()
            };
            let to_stdout = matches!(
                err.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            );
            let stream = if to_stdout {
                &mut io.stdout
            } else {
                &mut io.stderr
            };
            let _ = write!(stream, "{rendered}");
            return ExitCode::from(if to_stdout { 0 } else { 2 });
        }
    };
    let plugin = cli.command.writes_nagios();
    if let Err(err) = cli.command.check_format() {
        return refused(err, plugin, io);
    }
    let output_file = cli.command.output_file().map(Path::to_path_buf);
    if output_file.is_some() && cli.command.follows() {
        let err = Error::Usage(
            "--output with --follow: a followed scan never ends, so its file would never be put in place; redirect stdout instead".into(),
        );
        return refused(err, plugin, io);
    }
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        // A file is no terminal: no colours in it unless asked for.
        ColorChoice::Auto if output_file.is_some() => false,
        ColorChoice::Auto => {
            let set = |name: &str| (io.env)(name).is_some_and(|v| !v.is_empty());
            if set("NO_COLOR") {
                false
            } else if set("CLICOLOR_FORCE") {
                true
            } else {
                io.stdout_is_terminal
            }
        }
    };
    // `--output FILE`: the report goes to a temp file beside FILE, put in place at the end.
    let atomic = match output_file.as_deref().map(|path| {
        AtomicFile::create(path)
            .and_then(|file| file.writer().map(|w| (file, w)))
            .map_err(|e| Error::Usage(format!("--output {}: {e}", path.display())))
    }) {
        None => None,
        Some(Ok(file)) => Some(file),
        Some(Err(err)) => return refused(err, plugin, io),
    };
    let terminal = std::mem::replace(&mut io.stdout, Box::new(std::io::sink()));
    let (stdout, terminal, atomic): (Box<dyn Write + '_>, _, _) = match atomic {
        Some((file, w)) => (
            Box::new(std::io::BufWriter::with_capacity(1 << 16, w)),
            Some(terminal),
            Some(file),
        ),
        // Into a pipe or a file, output is written in blocks, not a write(2) per line (a
        // scan's JSON lines were 1.7M writes); `--follow` flushes after each poll and the run at
        // its end.
        None if io.stdout_is_terminal => (terminal, None, None),
        None => (
            Box::new(std::io::BufWriter::with_capacity(1 << 16, terminal)),
            None,
            None,
        ),
    };
    // The last guard: control characters from the input never reach the terminal raw; and
    // before it, the one redacting writer: whatever printed it, no secret leaves.
    io.stdout = guarded(stdout, color);
    let stderr = std::mem::replace(&mut io.stderr, Box::new(std::io::sink()));
    io.stderr = Box::new(Redacting::new(ControlGuard::new(
        stderr,
        Allow {
            sgr: io.stderr_is_terminal,
            progress: true,
        },
    )));
    let json_errors = cli.command.writes_json();
    let result = match cli.command {
        Command::Explain(args) => explain::run(args, color, io),
        Command::Scan(args) => scan::run(args, color, io),
        Command::Key(args) => key::run(args, color, io),
        Command::Can(args) => can::run(args, color, io),
        Command::Suggest(args) => suggest::run(args, color, io),
        Command::Expiring(args) => expiring::run(args, color, io),
        Command::Rotate(args) => rotate::run(args, color, io),
        Command::Impact(args) => impact::run(args, color, io),
        Command::Doctor(args) => doctor::run(args, color, io),
        Command::Rules(cmd) => rules::run(cmd, color, io),
        Command::Completions { shell } => shell::completions(command(), shell, io),
        Command::Man { dir } => shell::man(command(), dir.as_deref(), io),
    };
    // The report is whole: put the file in place (a run that failed leaves the old one, and
    // its JSON error goes to stdout as without --output).
    let result = match (atomic, terminal) {
        (Some(file), Some(terminal)) => {
            let written = io.stdout.flush();
            io.stdout = guarded(terminal, false);
            match (result, written) {
                (Ok(outcome), Ok(())) => file.commit().map(|()| outcome).map_err(|e| {
                    Error::Usage(format!("--output {}: {e}", file_name(&output_file)))
                }),
                (Ok(_), Err(e)) => Err(Error::Usage(format!(
                    "--output {}: {e}",
                    file_name(&output_file)
                ))),
                (Err(e), _) => Err(e),
            }
        }
        _ => result,
    };
    if let Err(err) = &result {
        if !matches!(err, Error::Io(e) if e.kind() == std::io::ErrorKind::BrokenPipe) {
            report_error(err, io);
            if json_errors {
                json_error(err, io);
            }
            if plugin {
                // A plugin that failed says UNKNOWN on stdout and exits 3: keydoctor's own
                // error must never page someone as CRITICAL (2) would.
                let _ = crate::report::monitor::nagios_unknown(&err.to_string(), &mut io.stdout);
                let _ = io.stdout.flush();
                let _ = io.stderr.flush();
                return ExitCode::from(crate::model::MonitorState::Unknown.exit_code());
            }
        }
    }
    let _ = io.stdout.flush();
    let _ = io.stderr.flush();
    exit_code(&result)
}

/// A run refused before it started (a flag that cannot be honoured): the error on stderr, and
/// a plugin's UNKNOWN on stdout.
fn refused(err: Error, plugin: bool, io: &mut Io<'_>) -> ExitCode {
    report_error(&err, io);
    if plugin {
        let _ = crate::report::monitor::nagios_unknown(&err.to_string(), &mut io.stdout);
        let _ = io.stdout.flush();
        return ExitCode::from(crate::model::MonitorState::Unknown.exit_code());
    }
    exit_code(&Err(err))
}

fn file_name(path: &Option<PathBuf>) -> String {
    path.as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// The stdout chain: redaction, then the control-character guard (colour codes let through
/// when `color`).
fn guarded<'a>(inner: Box<dyn Write + 'a>, color: bool) -> Box<dyn Write + 'a> {
    Box::new(Redacting::new(ControlGuard::new(
        inner,
        Allow {
            sgr: color,
            progress: false,
        },
    )))
}

/// The command line as clap describes it, with the long version (completions and man pages are
/// made from the same description).
fn command() -> clap::Command {
    Cli::command().version(version_text())
}

/// `--version`: the package version, the commit it was built from (and its date), and how many
/// rules and doctor checks are embedded, e.g. `0.1.0 (1e3bb1e3c4d5 2026-12-04; 67 rules, 12
/// doctor checks)`.
fn version_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let (rules, checks) = crate::rule::embedded_counts();
        let commit = option_env!("KEYDOCTOR_COMMIT").unwrap_or("commit unknown");
        format!(
            "{} ({commit}; {rules} rules, {checks} doctor checks)",
            env!("CARGO_PKG_VERSION")
        )
    })
}

/// Under `--format json`, the error is also a JSON object on stdout (a script reads one
/// document whatever happened; the exit status says it failed).
fn json_error(err: &Error, io: &mut Io<'_>) {
    use miette::Diagnostic as _;
    let problems: Vec<String> = err
        .related()
        .map(|r| r.map(|d| d.to_string()).collect())
        .unwrap_or_default();
    let doc = crate::report::json::error_document(
        err.code().map(|c| c.to_string()),
        err.to_string(),
        err.help().map(|h| h.to_string()),
        problems,
    );
    let _ = writeln!(io.stdout, "{doc}");
}

fn report_error(err: &Error, io: &mut Io<'_>) {
    let theme = if io.stderr_is_terminal && (io.env)("NO_COLOR").is_none() {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let mut text = String::new();
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(width(io, None))
        .with_links(false);
    if handler.render_report(&mut text, err).is_err() {
        text = format!("error: {err}\n");
    }
    let _ = write!(io.stderr, "{}", crate::secret::redact(&text));
}

/// Where printed `curl` forms send their requests: the `--es-url` and `--ca-cert` given
/// (userinfo left out), else `$ELASTICSEARCH_URL`.
impl Command {
    /// The report's `--output FILE`, when given.
    fn output_file(&self) -> Option<&Path> {
        let o = match self {
            Command::Explain(a) => &a.output,
            Command::Scan(a) => &a.output,
            Command::Key(a) => &a.output,
            Command::Can(a) => &a.output,
            Command::Suggest(a) => &a.output,
            Command::Expiring(a) => &a.output,
            Command::Rotate(a) => &a.output,
            Command::Impact(a) => &a.output,
            Command::Doctor(a) => &a.output,
            Command::Rules(_) | Command::Completions { .. } | Command::Man { .. } => return None,
        };
        o.output_file.as_deref()
    }

    /// The formats a command writes: every one the three document formats; `explain` and
    /// `scan` the HTML page and ECS lines too; `expiring` and `doctor` the monitoring formats.
    fn check_format(&self) -> Result<(), Error> {
        use FormatArg::{Ecs, Html, Human, Json, Markdown, Nagios, Openmetrics};
        let (name, output, extra): (&str, &OutputArgs, &[FormatArg]) = match self {
            Command::Explain(a) => ("explain", &a.output, &[Html, Ecs]),
            Command::Scan(a) => ("scan", &a.output, &[Html, Ecs]),
            Command::Key(a) => ("key", &a.output, &[]),
            Command::Can(a) => ("can", &a.output, &[]),
            Command::Suggest(a) => ("suggest", &a.output, &[]),
            Command::Rotate(a) => ("rotate", &a.output, &[]),
            Command::Impact(a) => ("impact", &a.output, &[]),
            Command::Expiring(a) => ("expiring", &a.output, &[Nagios, Openmetrics]),
            Command::Doctor(a) => ("doctor", &a.output, &[Nagios, Openmetrics]),
            Command::Rules(_) | Command::Completions { .. } | Command::Man { .. } => return Ok(()),
        };
        let format = output.format;
        if matches!(format, Human | Json | Markdown) || extra.contains(&format) {
            return Ok(());
        }
        let mut names = vec!["human", "json", "markdown"];
        names.extend(extra.iter().map(|f| f.name()));
        let last = names.pop().unwrap_or("human");
        Err(Error::Usage(format!(
            "--format {}: `keydoctor {name}` writes {} or {last} (html and ecs are for explain and scan; nagios and openmetrics for expiring and doctor)",
            format.name(),
            names.join(", ")
        )))
    }

    /// Whether the command runs until interrupted (`scan --follow`).
    fn follows(&self) -> bool {
        matches!(self, Command::Scan(a) if a.follow)
    }

    /// Whether the command is run as a monitoring plugin (`--format nagios`).
    fn writes_nagios(&self) -> bool {
        match self {
            Command::Expiring(a) => a.output.format == FormatArg::Nagios,
            Command::Doctor(a) => a.output.format == FormatArg::Nagios,
            _ => false,
        }
    }

    /// Whether the command writes JSON (`--format json`): then an error is JSON on stdout too.
    fn writes_json(&self) -> bool {
        let json = |o: &OutputArgs| matches!(o.format, FormatArg::Json);
        match self {
            Command::Explain(a) => json(&a.output),
            Command::Scan(a) => json(&a.output),
            Command::Key(a) => json(&a.output),
            Command::Can(a) => json(&a.output),
            Command::Suggest(a) => json(&a.output),
            Command::Expiring(a) => json(&a.output),
            Command::Rotate(a) => json(&a.output),
            Command::Impact(a) => json(&a.output),
            Command::Doctor(a) => json(&a.output),
            Command::Rules(RulesCommand::List { format, .. }) => {
                matches!(format, ListFormat::Json)
            }
            Command::Rules(_) | Command::Completions { .. } | Command::Man { .. } => false,
        }
    }
}

fn curl_target(c: &ClusterArgs) -> crate::report::CurlTarget {
    crate::report::CurlTarget {
        url: c
            .es_url
            .as_deref()
            .map(crate::cluster::client::without_userinfo),
        ca_cert: c.ca_cert.as_ref().map(|p| p.display().to_string()),
    }
}

/// How to render: colour, the width, the curl form and where it points, everything or one screen.
fn render_options(
    output: &OutputArgs,
    cluster: &ClusterArgs,
    color: bool,
    io: &Io<'_>,
) -> crate::report::RenderOptions {
    crate::report::RenderOptions {
        color,
        width: width(io, output.width),
        curl: output.curl,
        full: output.full,
        target: curl_target(cluster),
        generated_ms: None,
    }
}

fn width(io: &Io<'_>, given: Option<usize>) -> usize {
    given
        .or(io.terminal_width)
        .or_else(|| (io.env)("COLUMNS").and_then(|c| c.parse().ok()))
        .unwrap_or(80)
        .clamp(40, 200)
}

/// Result of a command.
type CmdResult = Result<Outcome, Error>;
