//! The command line: clap arguments → a resolved configuration → a command → an exit code.
//! Everything is written through the writers in [`Io`]; nothing here prints directly.

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

use std::ffi::OsString;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use miette::{GraphicalReportHandler, GraphicalTheme};

use crate::error::{exit_code, Error, Outcome};
use crate::report::redacting::Redacting;
use crate::report::terminal::{Allow, ControlGuard};
use crate::report::{render, Format, RenderOptions};

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
    Explain(ExplainArgs),
    /// Scan log files and directories (server, audit, Logstash, Beats, Agent, Kibana logs,
    /// rotated .gz, key metadata): which API keys fail, why, since when, and who did it.
    Scan(ScanArgs),
    /// What the key metadata says about one key: state, dates, owner, privileges. Takes a key
    /// id or an encoded credential (only its id is used or shown).
    Key(KeyArgs),
    /// Keys expiring within a window (and keys that never expire), for cron and alerting:
    /// exit 1 when any, or when a key has already expired.
    Expiring(ExpiringArgs),
    /// A rotation plan for one key: create the replacement (its descriptors and metadata
    /// copied, a fresh expiration), deploy, verify, and only then invalidate the old key.
    Rotate(RotateArgs),
    /// Before invalidating a key: who uses it (audit logs), who fails with it, and the safe
    /// order of steps.
    Impact(ImpactArgs),
    /// Check a live cluster: security, TLS and the API key service on, keys that never expire
    /// or expire soon, remote clusters set up for API keys (sniff vs proxy, ports, credentials).
    Doctor(DoctorArgs),
    /// Inspect and test rules.
    #[command(subcommand)]
    Rules(RulesCommand),
}

#[derive(Debug, Args)]
struct DoctorArgs {
    /// Keys expiring within this window are findings (a time value: 14d, 36h).
    #[arg(long, value_name = "TIME", default_value = "14d")]
    within: String,
    /// Add check rules from this directory (checks/<id>.toml); same ids override.
    #[arg(long, value_name = "DIR")]
    rules: Option<PathBuf>,
    /// Suppressions to apply, by rule, key or class (default: ./.keydoctor.toml when there is
    /// one): a key known to never expire, with the reason.
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    config: Option<PathBuf>,
    /// Ignore ./.keydoctor.toml.
    #[arg(long)]
    no_config: bool,
    #[command(flatten)]
    cluster: ClusterArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    exit: ExitArgs,
    /// Treat this instant as now (RFC 3339).
    #[arg(long, hide = true)]
    now: Option<String>,
}

#[derive(Debug, Args)]
struct RotateArgs {
    /// A key id, or an encoded credential (base64 of id:secret; the secret is never shown).
    #[arg(value_name = "ID_OR_ENCODED")]
    key: String,
    /// The replacement's lifetime (a time value, e.g. 90d); default: the old key's, else 90d.
    #[arg(long, value_name = "TIME")]
    expiration: Option<String>,
    /// Add an index privilege to the replacement: PATTERN:PRIV[,PRIV] (patterns joined by |);
    /// repeatable. The plan shows the change as a diff.
    #[arg(long = "add-index-privilege", value_name = "PATTERN:PRIVS")]
    add_index_privilege: Vec<String>,
    /// Add snippets (snippets.toml, whose `rotate-key` the plan is made of) and rules from this
    /// directory; same ids override.
    #[arg(long, value_name = "DIR")]
    rules: Option<PathBuf>,
    #[command(flatten)]
    source: MetadataArgs,
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
    #[arg(long = "logs", value_name = "PATH", required = true)]
    logs: Vec<PathBuf>,
    /// Key metadata (optional): a saved GET /_security/api_key response, or --es-url.
    #[command(flatten)]
    source: MetadataArgs,
    /// Add rules, and products (products.toml), from this directory.
    #[arg(long, value_name = "DIR")]
    rules: Option<PathBuf>,
    #[command(flatten)]
    output: OutputArgs,
}

/// Where key metadata comes from: saved responses, or the cluster itself.
#[derive(Debug, Args)]
struct MetadataArgs {
    /// Key metadata to read: a saved response of GET /_security/api_key or
    /// POST /_security/_query/api_key (repeatable).
    #[arg(long = "metadata", value_name = "FILE", conflicts_with = "es_url")]
    metadata: Vec<PathBuf>,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Treat this instant as now (RFC 3339).
    #[arg(long, hide = true)]
    now: Option<String>,
}

/// How to reach a live cluster. Credentials come from the environment only: ES_API_KEY (an
/// encoded API key) or ES_USERNAME and ES_PASSWORD.
#[derive(Debug, Args)]
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
    #[arg(long, value_name = "TIME", default_value = "14d")]
    within: String,
    /// Also list the keys that never expire (a risk: nothing makes them rotate); they then
    /// count for the exit status.
    #[arg(long)]
    include_no_expiry: bool,
    /// Also scan these logs (audit logs above all: `access_granted` and
    /// `authentication_success` carry the key id) for each key's last use: when, how often,
    /// from which clients, as whom (repeatable).
    #[arg(long = "logs", value_name = "PATH")]
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
    #[command(flatten)]
    output: OutputArgs,
    /// Only failures at or after this time: a time value before now (2h, 7d, 90m; now is --now
    /// when given), 2026-11-20T00:00, 2026-11-20 or RFC 3339.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only failures at or before this time (the same forms as --since).
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Only findings about this key id (repeatable).
    #[arg(long = "key", value_name = "ID")]
    keys: Vec<String>,
    /// Only findings of this class (repeatable), e.g. invalidated, under_privileged.
    #[arg(long = "class", value_name = "CLASS")]
    classes: Vec<String>,
    /// Follow symbolic links (loops are detected and reported).
    #[arg(long)]
    follow_links: bool,
    /// The fulfilling (remote) cluster's logs, support bundle or saved API answers (repeatable):
    /// PATHs are then the querying cluster's, and cross-cluster symptoms are paired across the
    /// two, saying which side is silent.
    #[arg(long = "remote-logs", value_name = "PATH")]
    remote_logs: Vec<PathBuf>,
    /// The fulfilling cluster's alias on the querying cluster (default: inferred from a key
    /// both sides name, `_remote/info`, or the only alias in the logs).
    #[arg(long = "remote-alias", value_name = "ALIAS", requires = "remote_logs")]
    remote_alias: Option<String>,
    /// Keep watching the files (like tail -F, across rotation) and print new findings and
    /// growing counts as they appear; stop with Ctrl-C.
    #[arg(long)]
    follow: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
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
    output: OutputArgs,
    #[command(flatten)]
    diagnosis: DiagnosisArgs,
}

/// What a diagnosis needs besides its inputs (explain and scan).
#[derive(Debug, Args)]
struct DiagnosisArgs {
    /// Key metadata to join with the failures: a saved response of GET /_security/api_key or
    /// POST /_security/_query/api_key (repeatable).
    #[arg(long = "metadata", value_name = "FILE")]
    metadata: Vec<PathBuf>,
    /// Ask the cluster about each finding's key (--es-url), to confirm or contradict it.
    #[command(flatten)]
    cluster: ClusterArgs,
    /// The environment variable holding the failing client's encoded key: its id is the key of
    /// every failure whose text names none, and the cluster is asked about it. The value is
    /// never printed.
    #[arg(long, value_name = "VAR")]
    with_key_env: Option<String>,
    /// Also read the audit events shipped into these indices of the --es-url cluster (an index
    /// pattern, repeatable): failures, denials, key creation, changes and invalidations since
    /// --since (scan; default: the last 30 days).
    #[arg(long = "audit-index", value_name = "PATTERN")]
    audit_index: Vec<String>,
    /// Add rules from this directory (laid out as <class>/<id>.toml); same ids override.
    #[arg(long, value_name = "DIR")]
    rules: Option<PathBuf>,
    /// The cluster's Elasticsearch version, for version-aware remediation (e.g. 8.3).
    #[arg(long, value_name = "VERSION")]
    es_version: Option<String>,
    /// Treat this instant as now when deciding whether a key has expired (RFC 3339).
    #[arg(long, hide = true)]
    now: Option<String>,
    /// The cluster's xpack.security.authc.api_key.delete.retention_period, when not the default
    /// 7d: how long an expired or invalidated key is kept before it is deleted (a time value).
    #[arg(long, value_name = "TIME")]
    retention_period: Option<String>,
    /// Suppressions to apply (default: ./.keydoctor.toml when there is one).
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    config: Option<PathBuf>,
    /// Ignore ./.keydoctor.toml.
    #[arg(long)]
    no_config: bool,
    /// Build at most this many findings in full, the most frequent first; the rest are counted
    /// by class in the report (a log probed with millions of random key ids stays readable and
    /// memory stays bounded). 0: no cap.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    max_findings: usize,
    /// A Markdown report for a ticket: credentials as key ids, host names, node names and
    /// client addresses as consistent pseudonyms; refused if anything still looks like a secret.
    #[arg(long, conflicts_with = "format")]
    share: bool,
    #[command(flatten)]
    exit: ExitArgs,
}

/// Render `d` as asked: `--share` (checked Markdown with pseudonyms) or `format`.
fn output(
    d: &crate::diagnosis::Diagnosis,
    share: bool,
    format: Format,
    opts: &RenderOptions,
    io: &mut Io<'_>,
) -> Result<(), Error> {
    if !share {
        render(d, format, opts, &mut io.stdout)?;
        return Ok(());
    }
    let mut md = Vec::new();
    render(d, Format::Markdown, opts, &mut md)?;
    let md = String::from_utf8_lossy(&md);
    let shared = crate::report::share::share(&md, d).map_err(|problems| Error::ShareRefused {
        problems: problems.join("; "),
    })?;
    io.stdout.write_all(shared.as_bytes())?;
    Ok(())
}

/// When findings make the exit status 1 (explain, scan, doctor).
#[derive(Debug, Args)]
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
struct OutputArgs {
    /// Report format.
    #[arg(long, value_enum, default_value_t = FormatArg::Human)]
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
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Human,
    Json,
    Markdown,
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
    let cli = match Cli::try_parse_from(args) {
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
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
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
    // The last guard: control characters from the input never reach the terminal raw.
    let stdout = std::mem::replace(&mut io.stdout, Box::new(std::io::sink()));
    // Into a pipe or a file, output is written in blocks, not a write(2) per line (a scan's JSON
    // lines were 1.7M writes); `--follow` flushes after each poll and the run at its end.
    let stdout: Box<dyn Write + '_> = if io.stdout_is_terminal {
        stdout
    } else {
        Box::new(std::io::BufWriter::with_capacity(1 << 16, stdout))
    };
    // And before it, the one redacting writer: whatever printed it, no secret leaves.
    io.stdout = Box::new(Redacting::new(ControlGuard::new(
        stdout,
        Allow {
            sgr: color,
            progress: false,
        },
    )));
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
        Command::Expiring(args) => expiring::run(args, color, io),
        Command::Rotate(args) => rotate::run(args, color, io),
        Command::Impact(args) => impact::run(args, color, io),
        Command::Doctor(args) => doctor::run(args, color, io),
        Command::Rules(cmd) => rules::run(cmd, color, io),
    };
    if let Err(err) = &result {
        if !matches!(err, Error::Io(e) if e.kind() == std::io::ErrorKind::BrokenPipe) {
            report_error(err, io);
            if json_errors {
                json_error(err, io);
            }
        }
    }
    let _ = io.stdout.flush();
    let _ = io.stderr.flush();
    exit_code(&result)
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
    /// Whether the command writes JSON (`--format json`): then an error is JSON on stdout too.
    fn writes_json(&self) -> bool {
        let json = |o: &OutputArgs| matches!(o.format, FormatArg::Json);
        match self {
            Command::Explain(a) => json(&a.output),
            Command::Scan(a) => json(&a.output),
            Command::Key(a) => json(&a.output),
            Command::Expiring(a) => json(&a.output),
            Command::Rotate(a) => json(&a.output),
            Command::Impact(a) => json(&a.output),
            Command::Doctor(a) => json(&a.output),
            Command::Rules(RulesCommand::List { format, .. }) => {
                matches!(format, ListFormat::Json)
            }
            Command::Rules(_) => false,
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
    }
}

fn width(io: &Io<'_>, given: Option<usize>) -> usize {
    given
        .or(io.terminal_width)
        .or_else(|| (io.env)("COLUMNS").and_then(|c| c.parse().ok()))
        .unwrap_or(80)
        .clamp(40, 200)
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Human => Format::Human,
            FormatArg::Json => Format::Json,
            FormatArg::Markdown => Format::Markdown,
        }
    }
}

/// Result of a command.
type CmdResult = Result<Outcome, Error>;
