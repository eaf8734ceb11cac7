//! The tiny template language of rule texts: `{name}` inserts a variable, `{name|fallback}`
//! supplies a default. A `{` followed by a lowercase letter starts a placeholder and must be well
//! formed; any other brace is literal, so JSON request bodies need no escaping.
//!
//! - **In**: template text from a rule file.
//! - **Out**: a [`Template`] that renders against a variable lookup.
//! - **Never**: fail at render time: every check happens at load time.

use std::ops::Range;

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var {
        name: String,
        fallback: Option<String>,
    },
}

/// A placeholder as written, for validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    pub name: String,
    pub has_fallback: bool,
    /// Byte range of the placeholder in the template text.
    pub span: Range<usize>,
}

/// A malformed placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub span: Range<usize>,
}

impl Template {
    /// Parse `text`.
    pub fn parse(text: &str) -> Result<(Self, Vec<Placeholder>), TemplateError> {
        let mut parts = Vec::new();
        let mut placeholders = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        let mut at = 0;
        while let Some(open) = rest.find('{') {
            let starts_var = rest[open + 1..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase());
            if !starts_var {
                literal.push_str(&rest[..=open]);
                at += open + 1;
                rest = &rest[open + 1..];
                continue;
            }
            literal.push_str(&rest[..open]);
            let body_start = open + 1;
            // The fallback may itself hold braces (a JSON body): find the balancing `}`.
            let mut depth = 0usize;
            let close_rel = rest[body_start..]
                .char_indices()
                .find_map(|(i, c)| match c {
                    '{' => {
                        depth += 1;
                        None
                    }
                    '}' if depth == 0 => Some(i),
                    '}' => {
                        depth -= 1;
                        None
                    }
                    _ => None,
                });
            let Some(close_rel) = close_rel else {
                return Err(TemplateError {
                    message: "placeholder is not closed with `}`".into(),
                    span: at + open..at + rest.len(),
                });
            };
            let body = &rest[body_start..body_start + close_rel];
            let (name, fallback) = match body.split_once('|') {
                Some((name, fallback)) => (name, Some(fallback.to_string())),
                None => (body, None),
            };
            let span = at + open..at + body_start + close_rel + 1;
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                return Err(TemplateError {
                    message: format!(
                        "`{{{body}}}` is not a placeholder: write `{{name}}` or `{{name|fallback}}` with a lowercase snake_case name"
                    ),
                    span,
                });
            }
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            placeholders.push(Placeholder {
                name: name.to_string(),
                has_fallback: fallback.is_some(),
                span,
            });
            parts.push(Part::Var {
                name: name.to_string(),
                fallback,
            });
            let consumed = body_start + close_rel + 1;
            at += consumed;
            rest = &rest[consumed..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok((Self { parts }, placeholders))
    }

    /// The template as written in the rule file (for `keydoctor rules show`).
    pub fn as_written(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.clone(),
                Part::Var {
                    name,
                    fallback: None,
                } => format!("{{{name}}}"),
                Part::Var {
                    name,
                    fallback: Some(f),
                } => format!("{{{name}|{f}}}"),
            })
            .collect()
    }

    /// Render with `lookup`; a missing variable without fallback renders as `(unknown <name>)`.
    pub fn render(&self, lookup: &dyn Fn(&str) -> Option<String>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Var { name, fallback } => match lookup(name) {
                    Some(value) => {
                        // A multi-line value keeps the indentation of the line it lands on.
                        let line_start = out.rfind('\n').map_or(0, |i| i + 1);
                        let indent: String = out[line_start..]
                            .chars()
                            .take_while(|c| *c == ' ')
                            .collect();
                        let mut lines = value.lines();
                        if let Some(first) = lines.next() {
                            out.push_str(first);
                        }
                        for line in lines {
                            out.push('\n');
                            out.push_str(&indent);
                            out.push_str(line);
                        }
                    }
                    None => match fallback {
                        Some(fallback) => out.push_str(fallback),
                        None => {
                            out.push_str("(unknown ");
                            out.push_str(&name.replace('_', " "));
                            out.push(')');
                        }
                    },
                },
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_render_with_fallbacks_and_json_stays_literal() {
        let (t, ph) =
            Template::parse(r#"GET /_security/api_key?id={key_id|<id>} {"a":{}} {user}"#).unwrap();
        assert_eq!(ph.len(), 2);
        let got = t.render(&|name| (name == "user").then(|| "bob".to_string()));
        assert_eq!(got, r#"GET /_security/api_key?id=<id> {"a":{}} bob"#);
    }

    #[test]
    fn fallbacks_may_hold_json_and_multi_line_values_are_indented() {
        let (t, ph) = Template::parse("x {a|{\"k\": {\"v\": 1}}} y").unwrap();
        assert_eq!(ph.len(), 1);
        assert_eq!(t.render(&|_| None), "x {\"k\": {\"v\": 1}} y");
        let (t, _) = Template::parse("{\n  \"rd\": {a}\n}").unwrap();
        assert_eq!(
            t.render(&|_| Some("{\n  \"x\": 1\n}".into())),
            "{\n  \"rd\": {\n    \"x\": 1\n  }\n}"
        );
    }

    #[test]
    fn malformed_placeholder_is_an_error_with_a_span() {
        let err = Template::parse("id {key id}").unwrap_err();
        assert_eq!(err.span, 3..11);
        assert!(Template::parse("id {key_id").is_err());
    }
}
