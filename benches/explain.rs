//! `cargo bench --bench explain`: throughput of the whole `explain` pipeline (read, normalize,
//! match, diagnose, render JSON) on generated pastes of 1 MB, 10 MB and 100 MB; then the time
//! redaction alone (`secret::scan`) takes on credential-dense pastes: 400k `password:` lines,
//! 100k `Authorization` headers and 400k lines of the structural shapes.
//!
//! The paste is deterministic: realistic Beats, Logstash and server log lines, most of them
//! noise, with API-key failures mixed in (about one line in fifty). Numbers are wall time on
//! this machine; no test asserts on them.

use std::io::Write;
use std::time::{Duration, Instant};

use keydoctor::cli::{run, Io};

const NOISE: &[&str] = &[
    r#"{"log.level":"info","@timestamp":"2026-11-20T09:14:03.512Z","log.logger":"publisher","message":"Connection to backoff(elasticsearch(https://es01:9200)) established","service.name":"filebeat"}"#,
    r#"[2026-11-21T03:10:01,223][INFO ][logstash.outputs.elasticsearch][main] Pipeline started {"pipeline.id"=>"main"}"#,
    r#"[2026-11-21T03:10:01,223][INFO ][o.e.c.r.a.AllocationService] [es-data-1] current.health="GREEN" message="Cluster health status changed from [YELLOW] to [GREEN]""#,
    r#"{"@timestamp":"2026-11-21T03:10:02.100Z", "log.level": "INFO", "message":"added {node-3}", "ecs.version": "1.2.0","service.name":"ES_ECS","event.dataset":"elasticsearch.server","log.logger":"org.elasticsearch.cluster.service.ClusterApplierService","elasticsearch.node.name":"es-data-1"}"#,
];
const FAILURES: &[&str] = &[
    r#"{"log.level":"error","@timestamp":"2026-11-20T09:14:03.512Z","message":"Failed to connect to backoff(elasticsearch(https://es01:9200)): 401 Unauthorized: {\"error\":{\"root_cause\":[{\"type\":\"security_exception\",\"reason\":\"unable to authenticate with provided credentials and anonymous access is not allowed for this request\",\"additional_unsuccessful_credentials\":\"API key: api key [4qVxOY8BovXTWRJMh7gg] has been invalidated\"}]},\"status\":401}"}"#,
    r#"[2026-11-21T03:10:01,223][INFO ][logstash.outputs.elasticsearch][main][3f1c] Retrying failed action {:status=>403, :error=>{"type"=>"security_exception", "reason"=>"action [indices:data/write/bulk[s]] is unauthorized for API key id [kF3qLpQBx2fzN8wYtR1a] of user [logstash_writer] on indices [metrics-app-prod], this action is granted by the index privileges [create_doc,create,delete,index,write,all]"}}"#,
    r#"[2021-06-14T11:07:45,512][WARN ][o.e.x.s.a.AuthenticationService] [es-data-1] Authentication using apikey failed - unable to find apikey with id 3nQpXW0BdV7cKm1TzA9f"#,
];

fn paste(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 1024);
    let mut i = 0usize;
    while out.len() < bytes {
        let line = if i % 50 == 49 {
            FAILURES[(i / 50) % FAILURES.len()]
        } else {
            NOISE[i % NOISE.len()]
        };
        out.push_str(line);
        out.push('\n');
        i += 1;
    }
    out
}

struct Sink;
impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn explain_once(input: &str) -> Duration {
    let mut io = Io {
        stdin: Box::new(std::io::Cursor::new(input.as_bytes().to_vec())),
        stdout: Box::new(Sink),
        stderr: Box::new(Sink),
        stdin_is_terminal: false,
        stdout_is_terminal: false,
        stderr_is_terminal: false,
        env: Box::new(|_| None),
        terminal_width: None,
    };
    let start = Instant::now();
    let code = run(["keydoctor", "explain", "--format", "json"], &mut io);
    let elapsed = start.elapsed();
    assert_eq!(
        format!("{code:?}"),
        format!("{:?}", std::process::ExitCode::from(1))
    );
    elapsed
}

/// A deterministic run of `n` letters and digits (no randomness crate: a linear congruence).
fn word(state: &mut u64, n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..n)
        .map(|_| {
            *state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ALPHABET[((*state >> 33) % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

/// Credential-dense pastes: (label, lines, text).
fn credential_pastes() -> Vec<(&'static str, usize, String)> {
    let mut state = 7u64;
    let s = &mut state;
    let lines = |n: usize, s: &mut u64, line: &dyn Fn(usize, &mut u64) -> String| {
        let mut out = String::new();
        for i in 0..n {
            out.push_str(&line(i, s));
            out.push('\n');
        }
        out
    };
    let passwords = lines(400_000, s, &|_, s| format!("password: {}", word(s, 12)));
    let headers = lines(100_000, s, &|_, s| {
        format!("Authorization: ApiKey {}", word(s, 40))
    });
    let structural = lines(400_000, s, &|i, s| {
        match i % 5 {
        0 => format!(
            r#"client = new ApiKeyAuthentication("{}", "{}")"#,
            word(s, 20),
            word(s, 22)
        ),
        1 => format!("- name: ES_PASSWORD\n  value: {}", word(s, 16)),
        2 => format!("cloud.auth: elastic:{} ES_PASS={}", word(s, 16), word(s, 12)),
        3 => "[WARN ][o.e.x.s.a.AuthenticationService] Authentication using apikey failed - unable to authenticate with provided credentials and token".to_string(),
        _ => format!(
            r#"bearer_auth=("{}") auth: ["elastic", "{}"]"#,
            word(s, 30),
            word(s, 12)
        ),
    }
    });
    vec![
        ("password: lines", 400_000, passwords),
        ("headers", 100_000, headers),
        ("structural lines", 400_000, structural),
    ]
}

fn main() {
    // Warm the rule set (compiled once per process, as in real use it is once per run).
    explain_once(&paste(64 << 10));
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:>10}  {:>5}  {:>10}  {:>10}  {:>10}",
        "paste", "runs", "best", "median", "MB/s"
    )
    .unwrap();
    for (label, bytes, runs) in [
        ("1 MB", 1 << 20, 20),
        ("10 MB", 10 << 20, 7),
        ("100 MB", 100 << 20, 3),
    ] {
        let input = paste(bytes);
        let mut times: Vec<Duration> = (0..runs).map(|_| explain_once(&input)).collect();
        times.sort();
        let median = times[times.len() / 2];
        let mbps = bytes as f64 / (1 << 20) as f64 / median.as_secs_f64();
        writeln!(
            out,
            "{label:>10}  {runs:>5}  {:>8.1}ms  {:>8.1}ms  {mbps:>10.1}",
            times[0].as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e3
        )
        .unwrap();
    }
    writeln!(
        out,
        "\n{:>18}  {:>8}  {:>10}",
        "redaction of", "lines", "best of 3"
    )
    .unwrap();
    for (label, n, text) in credential_pastes() {
        let best = (0..3)
            .map(|_| {
                let start = Instant::now();
                let scanned = keydoctor::secret::scan(&text);
                let elapsed = start.elapsed();
                assert!(scanned.text.len() < text.len() + text.len() / 2);
                elapsed
            })
            .min()
            .expect("three runs");
        writeln!(
            out,
            "{label:>18}  {n:>8}  {:>8.1}ms",
            best.as_secs_f64() * 1e3
        )
        .unwrap();
    }
}
