//! What a plan's steps are about: who runs a request, where, on which path, and the facts a
//! step needs; the client a finding names.

/// Who authenticates a remediation step's request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunAs {
    /// A user, with a password (the key's owner, or an administrator acting for it).
    /// Elasticsearch refuses to create or update API keys when the caller authenticates with
    /// an API key, so every key-management request runs as a user. The default.
    #[default]
    User,
    /// The key's owner, as a user with a password: only the owner may update a key, and a
    /// replacement is created as the owner so that it has the same `limited_by`.
    Owner,
    /// A user with a password and the cluster privilege the request needs (`manage_security`,
    /// `manage_api_key`, `manage`): role changes, others' keys, node settings.
    Admin,
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
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::NewKey => "new_key",
            Self::ClientKey => "client_key",
        }
    }

    /// Parse a rule file's `run_as`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Every value, for messages.
    pub const ALL: [Self; 5] = [
        Self::User,
        Self::Owner,
        Self::Admin,
        Self::NewKey,
        Self::ClientKey,
    ];

    /// Whether the request authenticates with a password (never with an API key).
    pub fn is_password(self) -> bool {
        matches!(self, Self::User | Self::Owner | Self::Admin)
    }
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
    /// The client may be a Fleet-managed Elastic Agent, and is not known to be one (whose deploy
    /// step says so) nor another client: an "if it is a Fleet agent" step needs this.
    ClientMayBeFleet,
    /// The key's metadata (dates, state, descriptors) is not known: a step that reads it needs
    /// this.
    MetadataUnknown,
}

impl StepCondition {
    /// The name used in rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DescriptorsUnknown => "descriptors_unknown",
            Self::KeyMayBeActive => "key_may_be_active",
            Self::KeyMayExist => "key_may_exist",
            Self::InvalidatorUnknown => "invalidator_unknown",
            Self::ClientMayBeFleet => "client_may_be_fleet",
            Self::MetadataUnknown => "metadata_unknown",
        }
    }

    /// Parse a rule file's condition.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// Every condition, for messages.
    pub const ALL: [Self; 6] = [
        Self::DescriptorsUnknown,
        Self::KeyMayBeActive,
        Self::KeyMayExist,
        Self::InvalidatorUnknown,
        Self::ClientMayBeFleet,
        Self::MetadataUnknown,
    ];
}

/// The credential form a client's configuration takes (`rules/clients.toml`'s `takes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialForm {
    /// The create response's `id` and `api_key` joined by a colon: Beats, Elastic Agent
    /// standalone, Logstash, APM Server (they base64-encode it themselves).
    IdApiKey,
    /// The response's `encoded` value: an `Authorization: ApiKey` header, the language clients.
    Encoded,
    /// None: Fleet makes the key and the agent receives it.
    Fleet,
}

impl CredentialForm {
    /// The name used in `rules/clients.toml` and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IdApiKey => "id_api_key",
            Self::Encoded => "encoded",
            Self::Fleet => "fleet",
        }
    }

    /// Parse a clients file's `takes`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == text)
    }

    /// Every value, for messages.
    pub const ALL: [Self; 3] = [Self::IdApiKey, Self::Encoded, Self::Fleet];
}

/// Whether a client is managed by Fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetManaged {
    Yes,
    No,
    /// Its logs look the same either way (Elastic Agent).
    Maybe,
}

impl FleetManaged {
    /// The name used in `rules/clients.toml` and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yes => "yes",
            Self::No => "no",
            Self::Maybe => "maybe",
        }
    }

    /// Parse a clients file's `fleet`.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Yes, Self::No, Self::Maybe]
            .into_iter()
            .find(|f| f.as_str() == text)
    }
}

/// The client that sent the failing key, as recognised in what it logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The `rules/clients.toml` entry (`beats`, `logstash`, `python`, …).
    pub id: String,
    /// What to call it (`filebeat`, `Logstash`).
    pub name: String,
    /// Whether `name` is the one its sign read in the log (`filebeat`), rather than the entry's
    /// name for every client it covers (`Beats`).
    pub named_by_sign: bool,
    pub takes: CredentialForm,
    pub fleet: FleetManaged,
    /// Where it was recognised: `path:line`, or the input's name.
    pub seen_in: String,
    /// How to give it a replacement key (its deploy step's text).
    pub deploy: String,
}

/// Causes a rule's message leaves open and the differential weighs (a rule file's
/// `differential`): the message is the same for each, other inputs tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenCauses {
    /// The key exists, the secret sent is not its secret.
    WrongSecret,
    /// The remote refused the cross-cluster key in the handshake: expired, invalidated, unknown
    /// there, or its secret wrong; only the remote knows which.
    RemoteKeyRejected,
    /// A cross-cluster search was denied: the key's access, or the caller's `remote_indices`.
    RemoteAccessDenied,
}

impl OpenCauses {
    pub const ALL: [Self; 3] = [
        Self::WrongSecret,
        Self::RemoteKeyRejected,
        Self::RemoteAccessDenied,
    ];

    /// The name used in rule files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WrongSecret => "wrong_secret",
            Self::RemoteKeyRejected => "remote_key_rejected",
            Self::RemoteAccessDenied => "remote_access_denied",
        }
    }

    /// Parse a rule file's `differential`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

/// Which of two ways a plan fixes a key that can be kept: change it in place, or replace it.
/// A plan prints one (a rule file's `path`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanPath {
    /// Update the key in place (`PUT /_security/api_key/<id>`; 8.4+, a REST key, by its owner).
    Update,
    /// Create a replacement, deploy it, verify it, then retire the old key.
    Rotate,
}

impl PlanPath {
    /// The name used in rule files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Update => "update",
            Self::Rotate => "rotate",
        }
    }

    /// Parse a rule file's `path`.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Update, Self::Rotate]
            .into_iter()
            .find(|p| p.as_str() == text)
    }
}

/// Where a remediation step is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunsOn {
    /// The cluster the key belongs to (Dev Tools or `curl`).
    Cluster,
    /// With a remote cluster: the cluster that runs the searches and holds the credentials.
    Querying,
    /// With a remote cluster: the cluster that owns the cross-cluster key.
    Fulfilling,
    /// Kibana (its UI or its API).
    Kibana,
    /// The client's host or configuration.
    Client,
}

impl RunsOn {
    /// The name used in rule files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cluster => "cluster",
            Self::Querying => "querying_cluster",
            Self::Fulfilling => "fulfilling_cluster",
            Self::Kibana => "kibana",
            Self::Client => "client",
        }
    }

    /// Parse a rule file's `on`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// Every value, for messages.
    pub const ALL: [Self; 5] = [
        Self::Cluster,
        Self::Querying,
        Self::Fulfilling,
        Self::Kibana,
        Self::Client,
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
        for f in CredentialForm::ALL {
            assert_eq!(CredentialForm::parse(f.as_str()), Some(f));
        }
        for r in RunsOn::ALL {
            assert_eq!(RunsOn::parse(r.as_str()), Some(r));
        }
        assert_eq!(PlanPath::parse("update"), Some(PlanPath::Update));
        assert_eq!(RunAs::parse("root"), None);
        assert_eq!(StepCondition::parse("always"), None);
    }
}
