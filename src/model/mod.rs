//! The shared vocabulary at the bottom of the house: small typed values every stage may use.
//! Nothing here imports another module of the crate.

/// Who authenticates a remediation step's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunAs {
    /// A user, with a password (the key's owner, or an administrator acting for it).
    /// Elasticsearch refuses to create or update API keys when the caller authenticates with
    /// an API key, so every key-management request runs as a user. The default.
    #[default]
    User,
    /// The new key itself: a check that the replacement works must authenticate with it, not
    /// with the credential that created it.
    NewKey,
    /// The key the client sends, as it should send it (corrected where the finding says how):
    /// a check of that credential, not of the caller's.
    ClientKey,
}

impl RunAs {
    /// The name used in rule files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::NewKey => "new_key",
            Self::ClientKey => "client_key",
        }
    }

    /// Parse a rule file's `run_as`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Every value, for messages.
    pub const ALL: [Self; 3] = [Self::User, Self::NewKey, Self::ClientKey];
}

/// A fact a remediation step needs before it is printed (a rule file's `when = [...]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepCondition {
    /// The key's role descriptors are not known (no metadata, or metadata without them): the
    /// plan must read them before anything copies them.
    DescriptorsUnknown,
    /// The key may still be in use: it is not known to be invalidated, expired or missing.
    /// An invalidation step needs this.
    KeyMayBeActive,
    /// The key may still be found: it is not known to be missing (deleted, purged, never
    /// there). A step that reads the key needs this.
    KeyMayExist,
    /// Who invalidated the key is not known (no audit event names it): a step that asks to find
    /// out needs this.
    InvalidatorUnknown,
}

impl StepCondition {
    /// The name used in rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DescriptorsUnknown => "descriptors_unknown",
            Self::KeyMayBeActive => "key_may_be_active",
            Self::KeyMayExist => "key_may_exist",
            Self::InvalidatorUnknown => "invalidator_unknown",
        }
    }

    /// Parse a rule file's condition.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// Every condition, for messages.
    pub const ALL: [Self; 4] = [
        Self::DescriptorsUnknown,
        Self::KeyMayBeActive,
        Self::KeyMayExist,
        Self::InvalidatorUnknown,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in RunAs::ALL {
            assert_eq!(RunAs::parse(r.as_str()), Some(r));
        }
        for c in StepCondition::ALL {
            assert_eq!(StepCondition::parse(c.as_str()), Some(c));
        }
        assert_eq!(RunAs::parse("admin"), None);
        assert_eq!(StepCondition::parse("always"), None);
    }
}
