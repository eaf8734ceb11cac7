//! Errors that end a run, and the one place where outcomes become exit codes.
//!
//! Exit codes (README, `--help`): 0 no finding; 1 at least one finding; 2 usage, input or
//! configuration error. A closed stdout (`keydoctor explain | head`) is a quiet 0.

use std::io;
use std::process::ExitCode;

use miette::Diagnostic;
use thiserror::Error;

use crate::rule::RuleSetError;

/// A run that could not produce a report.
#[derive(Debug, Error, Diagnostic)]
pub enum Error {
    /// The rule files have problems; each is a labelled diagnostic.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Rules(#[from] RuleSetError),
    /// Nothing could be read: every input was empty, binary or unreadable.
    #[error("nothing to explain: {reasons}")]
    #[diagnostic(
        code(keydoctor::input::none),
        help("paste the error output on standard input, or name files that hold it")
    )]
    NoInput { reasons: String },
    /// `--metadata` named only files that could not be read.
    #[error("no key metadata could be read: {reasons}")]
    #[diagnostic(
        code(keydoctor::input::no_metadata),
        help("--metadata takes a saved answer of GET /_security/api_key or POST /_security/_query/api_key (or use --es-url)")
    )]
    NoMetadata { reasons: String },
    /// A scan found no file it could read.
    #[error("nothing to scan: {reasons}")]
    #[diagnostic(
        code(keydoctor::input::no_files),
        help("name directories or files that hold logs (server, audit, Logstash, Beats, Agent, Kibana) or key metadata")
    )]
    NoFiles { reasons: String },
    /// Talking to the cluster failed.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    /// The local configuration (`.keydoctor.toml`, `--config`) has problems.
    #[error("{file}: {problems}")]
    #[diagnostic(
        code(keydoctor::config),
        help("each [[suppress]] takes rule, key, class or client (at least one), a reason, and an optional until = \"YYYY-MM-DD\"; README: Local tuning")
    )]
    Config { file: String, problems: String },
    /// `--share` found something that looks like a secret in the finished report.
    #[error("refusing to print the shareable report: {problems}")]
    #[diagnostic(
        code(keydoctor::share::refused),
        help("nothing was printed; this is a redaction bug in keydoctor: please report it with the shape of the input (not the secret)")
    )]
    ShareRefused { problems: String },
    /// A usage problem clap does not catch.
    #[error("{0}")]
    #[diagnostic(code(keydoctor::usage))]
    Usage(String),
    /// Writing the report failed.
    #[error("cannot write the report: {0}")]
    #[diagnostic(code(keydoctor::io))]
    Io(#[from] io::Error),
}

/// What a command reports back to `cli::run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Ran; nothing found.
    Clean,
    /// Ran; found something (findings, failing examples, lint errors).
    Found,
    /// Ran; could not decide from what it was given (`keydoctor can`: a fact is missing).
    Undecided,
    /// Ran as a monitoring plugin (`--format nagios`): its state is the exit status.
    Monitor(crate::model::MonitorState),
}

/// The only mapping from outcomes to exit codes.
pub fn exit_code(result: &Result<Outcome, Error>) -> ExitCode {
    match result {
        Ok(Outcome::Clean) => ExitCode::from(0),
        Ok(Outcome::Found) => ExitCode::from(1),
        Ok(Outcome::Undecided) => ExitCode::from(3),
        Ok(Outcome::Monitor(state)) => ExitCode::from(state.exit_code()),
        Err(Error::Io(err)) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::from(0),
        Err(_) => ExitCode::from(2),
    }
}
