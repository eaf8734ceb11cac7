//! The failure classes and severities: the vocabulary shared by rules, findings and reports.

use std::fmt;

/// Exactly one of these per finding. Wire names are snake_case everywhere (TOML, JSON, CLI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    ApiKeyServiceDisabled,
    WrongKeyType,
    MalformedCredentials,
    Missing,
    Invalidated,
    Expired,
    CrossClusterMisconfig,
    UnderPrivileged,
    AuthenticationUnresolved,
    /// A key that never expires (`doctor`): nothing makes it rotate.
    NoExpiration,
    /// A key whose expiration falls within the window (`doctor`).
    ExpiringSoon,
}

impl Class {
    /// Every class, in report order (most decisive first): the failures, then `doctor`'s.
    pub const ALL: [Class; 11] = {
        let mut all = [Class::NoExpiration; 11];
        let mut i = 0;
        while i < Self::FAILURES.len() {
            all[i] = Self::FAILURES[i];
            i += 1;
        }
        all[9] = Class::ExpiringSoon;
        all
    };

    /// The classes a failure's text can show (what rules produce); the rest come from
    /// `doctor`'s checks of a cluster.
    pub const FAILURES: [Class; 9] = [
        Class::ApiKeyServiceDisabled,
        Class::WrongKeyType,
        Class::MalformedCredentials,
        Class::Missing,
        Class::Invalidated,
        Class::Expired,
        Class::CrossClusterMisconfig,
        Class::UnderPrivileged,
        Class::AuthenticationUnresolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Invalidated => "invalidated",
            Self::Expired => "expired",
            Self::UnderPrivileged => "under_privileged",
            Self::CrossClusterMisconfig => "cross_cluster_misconfig",
            Self::WrongKeyType => "wrong_key_type",
            Self::MalformedCredentials => "malformed_credentials",
            Self::ApiKeyServiceDisabled => "api_key_service_disabled",
            Self::AuthenticationUnresolved => "authentication_unresolved",
            Self::NoExpiration => "no_expiration",
            Self::ExpiringSoon => "expiring_soon",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// A short human phrase for headlines.
    pub fn phrase(self) -> &'static str {
        match self {
            Self::Missing => "key not found",
            Self::Invalidated => "key invalidated",
            Self::Expired => "key expired",
            Self::UnderPrivileged => "key lacks a privilege",
            Self::CrossClusterMisconfig => "remote cluster set up wrong",
            Self::WrongKeyType => "wrong kind of credential",
            Self::MalformedCredentials => "credential malformed",
            Self::ApiKeyServiceDisabled => "API key service disabled",
            Self::AuthenticationUnresolved => "401: reason hidden",
            Self::NoExpiration => "key never expires",
            Self::ExpiringSoon => "key expires soon",
        }
    }

    /// Whether a finding of this class explains a 403 (an authorization failure).
    pub fn explains_403(self) -> bool {
        matches!(
            self,
            Self::UnderPrivileged | Self::WrongKeyType | Self::CrossClusterMisconfig
        )
    }

    /// Classes that explain a failed authentication (a 401), as opposed to a denial.
    pub fn explains_401(self) -> bool {
        matches!(
            self,
            Self::Missing
                | Self::Invalidated
                | Self::Expired
                | Self::WrongKeyType
                | Self::MalformedCredentials
                | Self::ApiKeyServiceDisabled
        )
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A candidate cause of an `authentication_unresolved` finding: a class, or `not_sent` (the
/// client never sent a usable credential: the corpus's `other`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CandidateKind {
    Class(Class),
    NotSent,
}

impl CandidateKind {
    pub fn parse(name: &str) -> Option<Self> {
        if name == "not_sent" {
            Some(Self::NotSent)
        } else {
            Class::parse(name).map(Self::Class)
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Class(class) => class.as_str(),
            Self::NotSent => "not_sent",
        }
    }
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Note => "note",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "error" => Some(Self::Error),
            "warning" => Some(Self::Warning),
            "note" => Some(Self::Note),
            _ => None,
        }
    }
}

/// What a rule produces: a finding of a class, or a one-line note about a neighbouring problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleClass {
    Finding(Class),
    Note,
}

impl RuleClass {
    pub fn parse(name: &str) -> Option<Self> {
        if name == "note" {
            Some(Self::Note)
        } else {
            Class::parse(name).map(Self::Finding)
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Finding(class) => class.as_str(),
            Self::Note => "note",
        }
    }
}

/// A dotted version `8.4` / `8.10.2`, compared numerically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = match parts.next() {
            Some(p) => p.parse().ok()?,
            None => 0,
        };
        let patch = match parts.next() {
            Some(p) => p
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()?,
            None => 0,
        };
        Some(Self(major, minor, patch))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.2 == 0 {
            write!(f, "{}.{}", self.0, self.1)
        } else {
            write!(f, "{}.{}.{}", self.0, self.1, self.2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_round_trip() {
        for class in Class::ALL {
            assert_eq!(Class::parse(class.as_str()), Some(class));
        }
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(Version::parse("8.10").unwrap() > Version::parse("8.4").unwrap());
        assert_eq!(Version::parse("7.17.3"), Some(Version(7, 17, 3)));
        assert_eq!(Version::parse("8.13.0-SNAPSHOT"), Some(Version(8, 13, 0)));
    }
}

/// The Elasticsearch version a finding knows: given or named in the input (exact), or a lower
/// bound its message shapes imply (`8.10+`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnownVersion {
    Exact(Version),
    AtLeast(Version),
}

impl fmt::Display for KnownVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(v) => write!(f, "{v}"),
            Self::AtLeast(v) => write!(f, "{v}+"),
        }
    }
}

/// A monitoring plugin's state (the Nagios plugin contract, which Icinga, Naemon, Zabbix and
/// Sensu follow): its exit status and the first word of its output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MonitorState {
    Ok,
    Warning,
    Critical,
    /// The plugin could not tell (keydoctor's own error, an answer it could not read): never
    /// CRITICAL, which would page someone for keydoctor's fault.
    Unknown,
}

impl MonitorState {
    /// 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    pub fn exit_code(self) -> u8 {
        match self {
            MonitorState::Ok => 0,
            MonitorState::Warning => 1,
            MonitorState::Critical => 2,
            MonitorState::Unknown => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MonitorState::Ok => "OK",
            MonitorState::Warning => "WARNING",
            MonitorState::Critical => "CRITICAL",
            MonitorState::Unknown => "UNKNOWN",
        }
    }

    /// The worse of two states, as a plugin that checks several things reports them:
    /// CRITICAL over WARNING over UNKNOWN over OK.
    pub fn worst(self, other: MonitorState) -> MonitorState {
        let rank = |s: MonitorState| match s {
            MonitorState::Ok => 0,
            MonitorState::Unknown => 1,
            MonitorState::Warning => 2,
            MonitorState::Critical => 3,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}
