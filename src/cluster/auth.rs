//! keydoctor's own credentials, from the environment only: `ES_API_KEY` (the `encoded` value of a
//! key) or `ES_USERNAME` + `ES_PASSWORD`. Never from the command line, never printed.

use std::fmt;

use base64::Engine as _;

/// A secret: shown as `…redacted…` by `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap `value`.
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The value, for the one place that sends it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("…redacted…")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("…redacted…")
    }
}

/// How keydoctor authenticates to the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: ApiKey <encoded>`.
    ApiKey(Secret),
    /// `Authorization: Basic base64(user:password)`.
    Basic { user: String, password: Secret },
    /// The key under study (`--with-key-env VAR`): sent only to test what that key itself can
    /// do; a rejection is a fact about the key, not about keydoctor's credentials.
    StudiedKey { var: String, key: Secret },
    /// No credentials (a cluster without security, or a proxy that adds them).
    None,
}

impl Auth {
    /// Read the credentials from `env` (`ES_API_KEY` wins over a user and password).
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        if let Some(key) = set("ES_API_KEY") {
            return Self::ApiKey(Secret::new(key.trim().to_string()));
        }
        match (set("ES_USERNAME"), set("ES_PASSWORD")) {
            (Some(user), Some(password)) => Self::Basic {
                user,
                password: Secret::new(password),
            },
            _ => Self::None,
        }
    }

    /// The `Authorization` header value, if any.
    pub(crate) fn header(&self) -> Option<String> {
        match self {
            Self::ApiKey(key) | Self::StudiedKey { key, .. } => {
                Some(format!("ApiKey {}", key.expose()))
            }
            Self::Basic { user, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{user}:{}", password.expose()))
            )),
            Self::None => None,
        }
    }

    /// Where the credentials came from, for messages (no secret).
    pub fn describe(&self) -> String {
        match self {
            Self::ApiKey(_) => "the API key in ES_API_KEY".into(),
            Self::StudiedKey { var, .. } => format!("the key under study, from {var}"),
            Self::Basic { user, .. } => format!("user `{user}` (ES_USERNAME / ES_PASSWORD)"),
            Self::None => {
                "no credentials (neither ES_API_KEY nor ES_USERNAME + ES_PASSWORD is set)".into()
            }
        }
    }

    /// Whether any credential is sent.
    pub fn is_some(&self) -> bool {
        !matches!(self, Self::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_wins_and_secrets_never_format() {
        let env = |name: &str| match name {
            "ES_API_KEY" => Some("c2VjcmV0".to_string()),
            "ES_USERNAME" => Some("elastic".to_string()),
            "ES_PASSWORD" => Some("hunter2".to_string()),
            _ => None,
        };
        let auth = Auth::from_env(&env);
        assert_eq!(auth.header().as_deref(), Some("ApiKey c2VjcmV0"));
        assert!(!format!("{auth:?}").contains("c2VjcmV0"));
        let env = |name: &str| match name {
            "ES_USERNAME" => Some("elastic".to_string()),
            "ES_PASSWORD" => Some("hunter2".to_string()),
            _ => None,
        };
        let auth = Auth::from_env(&env);
        assert_eq!(auth.header().as_deref(), Some("Basic ZWxhc3RpYzpodW50ZXIy"));
        assert!(!format!("{auth:?} {}", auth.describe()).contains("hunter2"));
        assert_eq!(Auth::from_env(&|_| None), Auth::None);
    }
}
