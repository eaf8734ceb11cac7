//! No secret from any input appears in any output format: not an `encoded` value, not an
//! `api_key` secret, not an Authorization value, not a password, not the secret half of a
//! decoded `id:secret`. Key ids stay visible.

use base64::Engine;
use regex::Regex;

use crate::support::{fixture, keydoctor, root, NOW};

/// Secrets in `text`, found independently of keydoctor's own scanner.
fn secrets_in(text: &str) -> Vec<String> {
    let patterns = [
        r#"(?i)\b(?:ApiKey|Bearer|Basic)\s+([A-Za-z0-9+/=_:.\-]{12,})"#,
        r#""(?:encoded|api_key)"\s*:\s*"([^"]{8,})""#,
        r#"(?i)password\s*[:=]\s*(\S{6,})"#,
        r#"(?i)ES_API_KEY=(\S{8,})"#,
    ];
    let mut out = Vec::new();
    for p in patterns {
        for caps in Regex::new(p).unwrap().captures_iter(text) {
            let value = caps[1].to_string();
            if value.chars().all(|c| c == 'x') {
                continue;
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(&value)
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            let pair = decoded.as_deref().unwrap_or(&value);
            if let Some((_, secret)) = pair.split_once(':') {
                if secret.len() >= 8 {
                    out.push(secret.trim_end().to_string());
                }
            }
            out.push(value);
        }
    }
    out
}

fn all_inputs() -> Vec<(String, String)> {
    let mut inputs = Vec::new();
    for entry in std::fs::read_dir(fixture("explain")).unwrap() {
        let path = entry.unwrap().path();
        inputs.push((
            path.display().to_string(),
            std::fs::read_to_string(&path).unwrap(),
        ));
    }
    let corpus = root().join("../shared/corpus/dev");
    if let Ok(dir) = std::fs::read_dir(corpus) {
        for entry in dir {
            let path = entry.unwrap().path();
            let case: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            inputs.push((
                path.display().to_string(),
                case["input"].as_str().unwrap().to_string(),
            ));
        }
    }
    inputs
}

fn assert_no_secret(name: &str, input: &str, secrets: &[String]) {
    for format in ["human", "json", "markdown"] {
        for curl in [false, true] {
            let mut args = vec![
                "explain", "--format", format, "--now", NOW, "--color", "always",
            ];
            if curl {
                args.push("--curl");
            }
            let out = keydoctor(&args, input);
            for secret in secrets {
                assert!(
                    !out.stdout.contains(secret.as_str()),
                    "{name}: secret {secret:?} in {format} output"
                );
                assert!(
                    !out.stderr.contains(secret.as_str()),
                    "{name}: secret {secret:?} on stderr"
                );
            }
        }
    }
}

#[test]
fn no_fixture_or_corpus_secret_appears_in_any_format() {
    let mut checked = 0;
    for (name, input) in all_inputs() {
        let secrets = secrets_in(&input);
        checked += secrets.len();
        assert_no_secret(&name, &input, &secrets);
    }
    assert!(
        checked >= 8,
        "the fixtures plant secrets; found only {checked}"
    );
}

#[test]
fn planted_secrets_never_leak_whatever_the_shape() {
    // A small deterministic generator: no external randomness, same cases every run.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for round in 0..40 {
        let mut word = |n: usize| {
            (0..n)
                .map(|_| ALPHABET[(next() % 64) as usize] as char)
                .collect::<String>()
        };
        let id = word(20);
        let secret = word(22);
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        let body = r#"{"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request"}]},"status":401}"#;
        let shapes = [
            format!("curl -H 'Authorization: ApiKey {encoded}' https://es:9200/\n{body}"),
            format!("> Authorization: ApiKey {id}:{secret}\n< HTTP/1.1 401 Unauthorized\n{body}"),
            format!("{{\"id\":\"{id}\",\"api_key\":\"{secret}\",\"encoded\":\"{encoded}\"}}\n{body}"),
            format!("{{\"message\":\"headers: {{\\\"Authorization\\\": \\\"ApiKey {encoded}\\\"}} {}\"}}", body.replace('"', "\\\"")),
            format!("output.elasticsearch:\n  api_key: \"{id}:{secret}\"\n{body}"),
            format!("ES_API_KEY={encoded}\nAuthorization: Bearer {encoded}\n{body}"),
            format!("Authorization: Basic {}\npassword: {secret}\n{body}", base64::engine::general_purpose::STANDARD.encode(format!("elastic:{secret}"))),
        ];
        let shape = &shapes[round % shapes.len()];
        assert_no_secret(
            &format!("round {round}"),
            shape,
            &[secret.clone(), encoded.clone()],
        );
        // The id stays visible where a finding names it.
        let out = keydoctor(&["explain", "--format", "json"], shape);
        assert!(out.code < 2);
    }
}
