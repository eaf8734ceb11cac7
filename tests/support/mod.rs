//! Helpers: run keydoctor in process with injected streams, or as a real process.

use std::cell::RefCell;
use std::io::Write;
use std::path::PathBuf;
use std::rc::Rc;

use keydoctor::cli::{run, Io};

pub(crate) mod pty;
pub(crate) mod replay;

/// A fixed "now" so that expiry decisions (and so snapshots) do not depend on the day.
pub(crate) const NOW: &str = "2026-11-23T00:00:00Z";

#[derive(Clone, Default)]
pub(crate) struct SharedBuf(Rc<RefCell<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuf {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.borrow()).into_owned()
    }
}

/// The result of a run.
pub(crate) struct Output {
    pub(crate) code: u8,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Run keydoctor in process: `args` without the program name, `stdin` as given, no terminal,
/// no environment.
pub(crate) fn keydoctor(args: &[&str], stdin: &str) -> Output {
    keydoctor_with(args, stdin.as_bytes().to_vec(), false)
}

/// Like [`keydoctor`], with these environment variables (and no others).
pub(crate) fn keydoctor_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    run_with(args, Vec::new(), false, env)
}

/// Like [`keydoctor_env`], with bytes on stdin.
pub(crate) fn keydoctor_env_stdin(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    run_with(args, stdin.as_bytes().to_vec(), false, env)
}

/// Like [`keydoctor`], with bytes on stdin and a pretend-terminal stdin.
pub(crate) fn keydoctor_with(args: &[&str], stdin: Vec<u8>, stdin_is_terminal: bool) -> Output {
    run_with(args, stdin, stdin_is_terminal, &[])
}

fn run_with(
    args: &[&str],
    stdin: Vec<u8>,
    stdin_is_terminal: bool,
    env: &[(&str, &str)],
) -> Output {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let out = SharedBuf::default();
    let err = SharedBuf::default();
    let mut io = Io {
        stdin: Box::new(std::io::Cursor::new(stdin)),
        stdout: Box::new(out.clone()),
        stderr: Box::new(err.clone()),
        stdin_is_terminal,
        stdout_is_terminal: false,
        stderr_is_terminal: false,
        env: Box::new(move |name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())),
        terminal_width: None,
    };
    let mut argv = vec!["keydoctor"];
    argv.extend_from_slice(args);
    let code = run(argv, &mut io);
    drop(io);
    Output {
        code: exit_code_number(code),
        stdout: out.text(),
        stderr: err.text(),
    }
}

fn exit_code_number(code: std::process::ExitCode) -> u8 {
    // ExitCode has no accessor; its Debug form carries the number.
    let text = format!("{code:?}");
    text.chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .expect("exit code")
}

/// `explain --format json` on `input`, parsed.
pub(crate) fn explain_json(input: &str) -> serde_json::Value {
    let out = keydoctor(&["explain", "--format", "json", "--now", NOW], input);
    assert!(out.code < 2, "exit {}: {}", out.code, out.stderr);
    serde_json::from_str(&out.stdout).expect("stdout is one JSON document")
}

/// The repository root.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture path.
pub(crate) fn fixture(name: &str) -> PathBuf {
    root().join("fixtures").join(name)
}

/// The finding classes of a JSON report.
pub(crate) fn classes(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["class"].as_str().expect("class").to_string())
        .collect()
}

/// A diagnostic as one line: miette's wrapping and gutter (`│`) removed, so that a test can
/// look for a sentence wherever the terminal width broke it.
pub(crate) fn flat(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ")
}
