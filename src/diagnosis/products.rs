//! Keys that belong to a product (Kibana alerting rules, Fleet agents and enrollment tokens):
//! recognised from the key's name and metadata, per `rules/products.toml`.
//!
//! - **In**: the products file (bundled, plus `DIR/products.toml` of `--rules DIR`), a key's
//!   name (from `GET /_security/api_key` or `apikey.name` in audit events) and metadata.
//! - **Out**: a [`Recognised`] product with its texts rendered for that key.
//! - **Never**: guess from a name alone when the product is told by its metadata: without
//!   metadata such a key is not recognised.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use crate::rule::template::Template;

const PRODUCTS_TOML: &str = include_str!("../../rules/products.toml");

/// One product of `rules/products.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub id: String,
    pub product: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub optional_metadata: Vec<String>,
    pub depends: String,
    pub breaks: String,
    /// When the product invalidates such a key itself.
    #[serde(default)]
    pub retires: Option<String>,
    pub steps: Vec<String>,
    #[serde(default)]
    pub related: Option<String>,
    #[serde(default)]
    pub sources: Vec<String>,
    /// `name`, compiled on first use.
    #[serde(skip)]
    name_re: std::sync::OnceLock<Option<Regex>>,
}

impl Product {
    /// The compiled `name` regex (`None` without one, or when it does not compile, which
    /// `check_products` reports).
    fn name_regex(&self) -> Option<&Regex> {
        self.name_re
            .get_or_init(|| self.name.as_deref().and_then(|n| Regex::new(n).ok()))
            .as_ref()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductsFile {
    product: Vec<Product>,
}

/// A key recognised as a product's, with its texts rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recognised {
    pub id: String,
    pub product: String,
    pub depends: String,
    pub breaks: String,
    pub retires: Option<String>,
    pub steps: Vec<String>,
    /// The metadata field and value the live cluster can be asked about (other keys sharing it).
    pub related: Option<(String, String)>,
    pub sources: Vec<String>,
}

/// The bundled products, and those of `DIR/products.toml` when a rules directory has one (a
/// product of the same id replaces the bundled one).
pub fn products(custom: Option<&std::path::Path>) -> Result<Vec<Product>, String> {
    let mut out = toml::from_str::<ProductsFile>(PRODUCTS_TOML)
        .map(|f| f.product)
        .map_err(|e| format!("rules/products.toml: {e}"))?;
    if let Some(path) = custom
        .map(|d| d.join("products.toml"))
        .filter(|p| p.is_file())
    {
        let text = crate::source::read_small_text(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let more = toml::from_str::<ProductsFile>(&text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        for p in more.product {
            out.retain(|o| o.id != p.id);
            out.push(p);
        }
    }
    Ok(out)
}

const FIXED: &[&str] = &["key_id", "key_name", "owner"];

/// What is wrong with `products`: a regex that does not compile, a product with nothing to
/// recognise it by, a placeholder naming no variable, a `related` field not among its metadata,
/// an id used twice.
pub fn check_products(products: &[Product]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut ids = BTreeSet::new();
    for p in products {
        if !ids.insert(p.id.as_str()) {
            problems.push(format!("product `{}` is defined twice", p.id));
        }
        let mut vars: BTreeSet<String> = FIXED.iter().map(|s| s.to_string()).collect();
        if let Some(name) = &p.name {
            match Regex::new(name) {
                Ok(re) => vars.extend(re.capture_names().flatten().map(str::to_string)),
                Err(e) => problems.push(format!("product `{}`: name regex: {e}", p.id)),
            }
        }
        if p.name.is_none() && p.metadata.is_empty() {
            problems.push(format!(
                "product `{}` has neither `name` nor `metadata` to recognise its keys by",
                p.id
            ));
        }
        vars.extend(p.metadata.keys().cloned());
        vars.extend(p.optional_metadata.iter().cloned());
        if let Some(field) = &p.related {
            if !p.metadata.contains_key(field) {
                problems.push(format!(
                    "product `{}`: related = `{field}` is not one of its metadata fields",
                    p.id
                ));
            }
        }
        if p.steps.is_empty() {
            problems.push(format!("product `{}` has no steps", p.id));
        }
        let texts = [("depends", &p.depends), ("breaks", &p.breaks)]
            .into_iter()
            .chain(p.retires.iter().map(|r| ("retires", r)))
            .chain(p.steps.iter().map(|s| ("steps", s)));
        for (field, text) in texts {
            match Template::parse(text) {
                Ok((_, placeholders)) => {
                    for ph in placeholders {
                        let base = ph.name.strip_suffix("_url").unwrap_or(&ph.name);
                        if !vars.contains(&ph.name) && !vars.contains(base) {
                            problems.push(format!(
                                "product `{}`: {field} uses `{{{}}}`, which is none of its variables ({})",
                                p.id,
                                ph.name,
                                vars.iter().cloned().collect::<Vec<_>>().join(", ")
                            ));
                        }
                    }
                }
                Err(e) => problems.push(format!("product `{}`: {field}: {}", p.id, e.message)),
            }
        }
    }
    problems
}

/// The bundled products (checked by a unit test and `rules lint`).
pub fn bundled() -> &'static [Product] {
    static BUNDLED: std::sync::LazyLock<Vec<Product>> =
        std::sync::LazyLock::new(|| products(None).unwrap_or_default());
    &BUNDLED
}

/// The first product `name` and `metadata` are a key of, with its texts rendered.
pub fn recognise(
    products: &[Product],
    key_id: &str,
    name: Option<&str>,
    metadata: Option<&Value>,
    owner: Option<&str>,
) -> Option<Recognised> {
    products
        .iter()
        .find_map(|p| recognise_one(p, key_id, name, metadata, owner))
}

fn recognise_one(
    p: &Product,
    key_id: &str,
    name: Option<&str>,
    metadata: Option<&Value>,
    owner: Option<&str>,
) -> Option<Recognised> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    vars.insert("key_id".into(), key_id.to_string());
    if let Some(n) = name {
        vars.insert("key_name".into(), n.to_string());
    }
    vars.insert(
        "owner".into(),
        owner.map_or_else(|| "the key's owner".to_string(), |o| format!("`{o}`")),
    );
    if p.name.is_some() {
        let re = p.name_regex()?;
        let caps = re.captures(name?)?;
        for group in re.capture_names().flatten() {
            if let Some(m) = caps.name(group) {
                vars.insert(group.to_string(), m.as_str().to_string());
            }
        }
    }
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(_) | Value::Number(_) => Some(v.to_string()),
        _ => None,
    };
    for (field, want) in &p.metadata {
        let got = metadata?.get(field).and_then(text)?;
        if want != "*" && &got != want {
            return None;
        }
        vars.insert(field.clone(), got);
    }
    for field in &p.optional_metadata {
        if let Some(got) = metadata.and_then(|m| m.get(field)).and_then(text) {
            vars.insert(field.clone(), got);
        }
    }
    let lookup = |v: &str| {
        vars.get(v).cloned().or_else(|| {
            v.strip_suffix("_url")
                .and_then(|base| vars.get(base))
                .map(|s| percent_encode(s))
        })
    };
    let render = |t: &str| {
        Template::parse(t)
            .map(|(t, _)| t.render(&lookup))
            .unwrap_or_else(|_| t.to_string())
    };
    Some(Recognised {
        id: p.id.clone(),
        product: p.product.clone(),
        depends: render(&p.depends),
        breaks: render(&p.breaks),
        retires: p.retires.as_deref().map(render),
        steps: p.steps.iter().map(|s| render(s)).collect(),
        related: p
            .related
            .as_ref()
            .and_then(|f| vars.get(f).map(|v| (f.clone(), v.clone()))),
        sources: p.sources.clone(),
    })
}

/// Percent-encode everything but RFC 3986's unreserved characters.
fn percent_encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bundled_products_are_valid() {
        let products = products(None).expect("products.toml parses");
        assert_eq!(check_products(&products), Vec::<String>::new());
    }

    #[test]
    fn a_broken_product_is_reported() {
        let bad: ProductsFile = toml::from_str(
            r#"
            [[product]]
            id = "x"
            product = "X"
            name = '^(?P<a>x'
            depends = "{nope}"
            breaks = "b"
            steps = []
            related = "agent_id"
            "#,
        )
        .unwrap();
        let problems = check_products(&bad.product).join("\n");
        for want in ["name regex", "`{nope}`", "no steps", "related = `agent_id`"] {
            assert!(problems.contains(want), "{want} in {problems}");
        }
    }

    #[test]
    fn recognises_by_name_and_by_metadata() {
        let products = products(None).unwrap();
        let rule = recognise(
            &products,
            "k1",
            Some("Alerting: .es-query/CPU over 90% on prod"),
            None,
            Some("alice"),
        )
        .expect("an alerting rule's key");
        assert_eq!(rule.id, "kibana-alerting-rule");
        assert!(rule
            .depends
            .contains("`CPU over 90% on prod` (rule type `.es-query`)"));
        assert!(rule.depends.contains("`alice`"));
        assert!(rule.steps[0].contains("search=%22CPU%20over%2090%25%20on%20prod%22"));
        // A Fleet agent's key needs its metadata: the name (the agent id) alone says nothing.
        let agent = "4b1c5f0e-6a3d-4e9b-9c2f-0d7e8a1b2c3d";
        assert_eq!(recognise(&products, "k2", Some(agent), None, None), None);
        let meta = json!({"agent_id": agent, "managed": true, "managed_by": "fleet-server", "type": "output", "output_name": "default"});
        let out = recognise(
            &products,
            "k2",
            Some(&format!("{agent}:default")),
            Some(&meta),
            None,
        )
        .expect("an agent's output key");
        assert_eq!(out.id, "fleet-agent-output");
        assert!(out.depends.contains("output `default`"));
        assert_eq!(out.related, Some(("agent_id".into(), agent.into())));
        // Another managed_by value is not Fleet Server's.
        let other = json!({"agent_id": agent, "managed_by": "someone", "type": "output"});
        assert_eq!(
            recognise(&products, "k3", Some("x"), Some(&other), None),
            None
        );
        let token =
            json!({"managed_by": "fleet", "managed": true, "type": "enroll", "policy_id": "p-1"});
        let t = recognise(
            &products,
            "k4",
            Some("Default (0b0c2e4a-1f2d-4c3b-8a9e-7d6c5b4a3f2e)"),
            Some(&token),
            None,
        )
        .expect("an enrollment token");
        assert!(t.steps[1].contains(
            "DELETE kbn:/api/fleet/enrollment_api_keys/0b0c2e4a-1f2d-4c3b-8a9e-7d6c5b4a3f2e"
        ));
        assert!(t.depends.contains("(Default)"));
    }
}
