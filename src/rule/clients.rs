//! The clients that send API keys (`rules/clients.toml`): how each is recognised in what it
//! logs, the credential form it takes, and its deploy step.
//!
//! - **In**: the embedded `clients.toml`, and `DIR/clients.toml` of `--rules DIR` (an entry
//!   of the same id replaces the embedded one, a new id is tried first).
//! - **Out**: compiled [`ClientSpec`]s; [`recognise`] names the client in a text.
//! - **Never**: guess: a text without any entry's sign names no client.

use regex::Regex;
use serde::Deserialize;

use super::template::Template;
use crate::model::{Client, CredentialForm, FleetManaged};

/// One compiled entry.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub id: String,
    pub name: String,
    pub takes: CredentialForm,
    pub fleet: FleetManaged,
    pub signs: Vec<Regex>,
    /// The deploy step's text; `{name}` is the client's name.
    pub deploy: Template,
    pub examples: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    client: Vec<RawClient>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    id: String,
    name: String,
    takes: String,
    fleet: String,
    signs: Vec<String>,
    deploy: String,
    #[serde(default)]
    examples: Vec<String>,
}

/// Compile a clients file; every problem is returned, with the entry it is in.
pub fn compile(text: &str) -> Result<Vec<ClientSpec>, Vec<String>> {
    let raw: RawFile = toml::from_str(text).map_err(|e| vec![e.to_string()])?;
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for c in raw.client {
        let mut bad = |what: String| problems.push(format!("client `{}`: {what}", c.id));
        let takes = CredentialForm::parse(&c.takes);
        if takes.is_none() {
            bad(format!(
                "takes `{}` is not one of {}",
                c.takes,
                CredentialForm::ALL.map(CredentialForm::as_str).join(", ")
            ));
        }
        let fleet = FleetManaged::parse(&c.fleet);
        if fleet.is_none() {
            bad(format!("fleet `{}` is not yes, no or maybe", c.fleet));
        }
        let mut signs = Vec::new();
        for s in &c.signs {
            match Regex::new(s) {
                Ok(re) => signs.push(re),
                Err(e) => bad(format!("sign `{s}` does not compile: {e}")),
            }
        }
        if c.signs.is_empty() {
            bad("has no signs".into());
        }
        let deploy = match Template::parse(c.deploy.trim()) {
            Ok((t, placeholders)) => {
                for p in placeholders.iter().filter(|p| p.name != "name") {
                    bad(format!(
                        "deploy uses `{{{}}}`; only `{{name}}` is known",
                        p.name
                    ));
                }
                Some(t)
            }
            Err(e) => {
                bad(format!("deploy: {}", e.message));
                None
            }
        };
        if let (Some(takes), Some(fleet), Some(deploy)) = (takes, fleet, deploy) {
            out.push(ClientSpec {
                id: c.id,
                name: c.name,
                takes,
                fleet,
                signs,
                deploy,
                examples: c.examples,
            });
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The embedded entries with `custom`'s in front (an entry of the same id replaces the embedded
/// one).
pub fn merge(embedded: Vec<ClientSpec>, custom: Vec<ClientSpec>) -> Vec<ClientSpec> {
    let mut out = custom;
    for c in embedded {
        if !out.iter().any(|o| o.id == c.id) {
            out.push(c);
        }
    }
    out
}

/// The first entry with a sign in `text`, named by the sign's `name` group or the entry's name.
pub fn recognise(specs: &[ClientSpec], text: &str, seen_in: &str) -> Option<Client> {
    specs.iter().find_map(|spec| {
        spec.signs.iter().find_map(|re| {
            let caps = re.captures(text)?;
            let read = caps.name("name").map(|m| m.as_str().to_lowercase());
            let named_by_sign = read.is_some();
            let name = read.unwrap_or_else(|| spec.name.clone());
            let deploy = spec
                .deploy
                .render(&|v: &str| (v == "name").then(|| name.clone()));
            Some(Client {
                id: spec.id.clone(),
                name,
                named_by_sign,
                takes: spec.takes,
                fleet: spec.fleet,
                seen_in: seen_in.to_string(),
                deploy,
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn embedded() -> Vec<ClientSpec> {
        compile(super::super::embedded::EMBEDDED_CLIENTS).expect("clients.toml compiles")
    }

    #[test]
    fn every_example_names_its_client() {
        let specs = embedded();
        assert!(specs.len() >= 10);
        for spec in &specs {
            assert!(!spec.examples.is_empty(), "{} has no example", spec.id);
            for ex in &spec.examples {
                let got = recognise(&specs, ex, "example").map(|c| c.id);
                assert_eq!(got.as_deref(), Some(spec.id.as_str()), "{ex}");
            }
        }
    }

    #[test]
    fn server_lines_name_no_client() {
        let specs = embedded();
        for line in [
            r#"[2026-11-20T09:14:10,120][WARN ][o.e.x.s.a.ApiKeyAuthenticator] [es-node-1] Authentication using apikey failed - api key [VuaCfGcBCdbkQm-e5aOx] has been invalidated"#,
            r#"{"@timestamp":"2024-03-07T14:00:20.001Z", "log.level": "WARN", "message":"Authentication using apikey failed - unable to find apikey with id HBjhbh", "ecs.version": "1.2.0","service.name":"ES_ECS","event.dataset":"elasticsearch.server"}"#,
            r#"{"type":"audit", "timestamp":"2026-11-20T09:14:03,247+0000", "event.action":"invalidate_apikeys", "user.name":"jsmith"}"#,
            r#"{"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate with provided credentials"}],"status":401}}"#,
        ] {
            assert_eq!(recognise(&specs, line, "x"), None, "{line}");
        }
    }

    #[test]
    fn the_beat_is_named_and_its_deploy_text_says_so() {
        let specs = embedded();
        let c = recognise(
            &specs,
            r#"{"log.level":"error","message":"Failed to connect to backoff(elasticsearch(https://es:9200)): 401 Unauthorized","service.name":"metricbeat"}"#,
            "x",
        )
        .unwrap();
        assert_eq!((c.id.as_str(), c.name.as_str()), ("beats", "metricbeat"));
        assert_eq!(c.takes, CredentialForm::IdApiKey);
        let text = c.deploy;
        assert!(text.starts_with("metricbeat takes `id:api_key`"), "{text}");
        assert!(text.contains("${ES_API_KEY}"), "{text}");
    }

    #[test]
    fn bad_entries_are_reported_each() {
        let problems = compile(
            r#"
[[client]]
id = "x"
name = "X"
takes = "password"
fleet = "sometimes"
signs = ["("]
deploy = "use {secret}"
"#,
        )
        .unwrap_err();
        assert_eq!(problems.len(), 4, "{problems:?}");
    }
}
