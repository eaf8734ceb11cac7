//! The audit trail's event actions (`event.action`), as Elasticsearch's `LoggingAuditTrail`
//! writes them (shared/reference section 5).

/// What an audit event records. The actions keydoctor joins on are variants; any other action
/// (`put_role`, `tampered_request`, a future one) is kept by name, so nothing read is dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// A request was allowed (`access_granted`).
    AccessGranted,
    /// A credential was accepted (`authentication_success`).
    AuthenticationSuccess,
    /// A run-as was allowed (`run_as_granted`).
    RunAsGranted,
    /// A request without credentials that count was refused: a rejected API key on REST is
    /// audited so, without its id (`anonymous_access_denied`).
    AnonymousAccessDenied,
    /// An API key was created (`create_apikey`; a cross-cluster key too).
    CreateApiKey,
    /// One API key was updated (`change_apikey`).
    ChangeApiKey,
    /// Several API keys were updated in bulk (`change_apikeys`).
    ChangeApiKeys,
    /// API keys were invalidated (`invalidate_apikeys`).
    InvalidateApiKeys,
    /// Any other action, by its name.
    Other(String),
}

impl AuditAction {
    /// The action for a name; `None` for a name that is not one of the variants (no allocation:
    /// the scan's hot path asks this of every audit line).
    pub fn known(name: &str) -> Option<Self> {
        Some(match name {
            "access_granted" => Self::AccessGranted,
            "authentication_success" => Self::AuthenticationSuccess,
            "run_as_granted" => Self::RunAsGranted,
            "anonymous_access_denied" => Self::AnonymousAccessDenied,
            "create_apikey" => Self::CreateApiKey,
            "change_apikey" => Self::ChangeApiKey,
            "change_apikeys" => Self::ChangeApiKeys,
            "invalidate_apikeys" => Self::InvalidateApiKeys,
            _ => return None,
        })
    }

    /// The action for a name as the audit line writes it.
    pub fn parse(name: &str) -> Self {
        Self::known(name).unwrap_or_else(|| Self::Other(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::AccessGranted => "access_granted",
            Self::AuthenticationSuccess => "authentication_success",
            Self::RunAsGranted => "run_as_granted",
            Self::AnonymousAccessDenied => "anonymous_access_denied",
            Self::CreateApiKey => "create_apikey",
            Self::ChangeApiKey => "change_apikey",
            Self::ChangeApiKeys => "change_apikeys",
            Self::InvalidateApiKeys => "invalidate_apikeys",
            Self::Other(name) => name,
        }
    }

    /// Whether the event changes an API key (created, updated or invalidated).
    pub fn changes_api_keys(&self) -> bool {
        matches!(
            self,
            Self::CreateApiKey | Self::ChangeApiKey | Self::ChangeApiKeys | Self::InvalidateApiKeys
        )
    }

    /// Whether the event is a change of the security configuration (`event.type`
    /// `security_config_change`): an API key's, or a user's, role's, mapping's or token's
    /// (`put_*`, `delete_*`, `change_*`, `*_user`).
    pub fn changes_security_config(&self) -> bool {
        match self {
            Self::Other(name) => {
                name.ends_with("_user")
                    || name.starts_with("put_")
                    || name.starts_with("delete_")
                    || name.starts_with("change_")
            }
            other => other.changes_api_keys(),
        }
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_reads_back_as_its_name_and_others_are_kept() {
        for name in [
            "access_granted",
            "authentication_success",
            "run_as_granted",
            "anonymous_access_denied",
            "create_apikey",
            "change_apikey",
            "change_apikeys",
            "invalidate_apikeys",
        ] {
            let action = AuditAction::parse(name);
            assert!(!matches!(action, AuditAction::Other(_)), "{name}");
            assert_eq!(action.as_str(), name);
        }
        let role = AuditAction::parse("put_role");
        assert_eq!(role, AuditAction::Other("put_role".into()));
        assert!(role.changes_security_config() && !role.changes_api_keys());
        assert!(AuditAction::InvalidateApiKeys.changes_api_keys());
        assert!(!AuditAction::AccessGranted.changes_security_config());
        assert!(!AuditAction::parse("tampered_request").changes_security_config());
        assert_eq!(AuditAction::known("access_denied"), None);
    }
}
