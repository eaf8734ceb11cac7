//! What a key is and where a failure was seen: its state, the kind of privilege an action
//! needs, the side of a cross-cluster pair.

/// A key's state as metadata shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyState {
    Active,
    Expired,
    Invalidated,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Invalidated => "invalidated",
        }
    }

    /// The state's name, `unknown` without metadata.
    pub fn or_unknown(state: Option<Self>) -> &'static str {
        state.map_or("unknown", Self::as_str)
    }
}

/// Whether an action is checked against cluster or index privileges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PrivilegeKind {
    Cluster,
    Index,
}

impl PrivilegeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cluster => "cluster",
            Self::Index => "index",
        }
    }

    /// `ClusterPrivilegeResolver.isClusterAction`.
    pub fn of_action(action: &str) -> Self {
        if action.starts_with("cluster:")
            || action.starts_with("indices:admin/template/")
            || action.starts_with("indices:admin/index_template/")
        {
            Self::Cluster
        } else {
            Self::Index
        }
    }
}

/// Which cluster of a cross-cluster pair a finding was seen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// The cluster that sends the search (the remote cluster's client).
    Querying,
    /// The cluster that answers it (the remote cluster itself).
    Fulfilling,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Querying => "querying",
            Self::Fulfilling => "fulfilling",
        }
    }
}

/// How a cluster connects to a remote cluster (`cluster.remote.<alias>.mode`; Elasticsearch
/// knows these two, and a remote without a mode sniffs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RemoteMode {
    /// Connect to seed nodes and discover the others (`seeds`).
    #[default]
    Sniff,
    /// Connect through one address (`proxy_address`).
    Proxy,
}

impl RemoteMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sniff => "sniff",
            Self::Proxy => "proxy",
        }
    }

    /// The mode as `_remote/info` or the settings write it (any case).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "sniff" => Some(Self::Sniff),
            "proxy" => Some(Self::Proxy),
            _ => None,
        }
    }
}

/// An API key's type (8.10+; every key before is `rest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyType {
    /// A key for REST requests (`POST /_security/api_key`).
    Rest,
    /// A key for cross-cluster requests on the remote cluster server port
    /// (`POST /_security/cross_cluster/api_key`).
    CrossCluster,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rest => "rest",
            Self::CrossCluster => "cross_cluster",
        }
    }

    /// The type as Elasticsearch writes it (`rest`, `cross_cluster`, any case).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "rest" => Some(Self::Rest),
            "cross_cluster" => Some(Self::CrossCluster),
            _ => None,
        }
    }
}

/// Which part of a key's answer a privilege comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DescriptorSource {
    /// The key's own `role_descriptors`.
    RoleDescriptors,
    /// Its owner's privileges as captured (`limited_by`, 8.5+ `with_limited_by`).
    LimitedBy,
    /// A cross-cluster key's `access`.
    Access,
}

impl DescriptorSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoleDescriptors => "role_descriptors",
            Self::LimitedBy => "limited_by",
            Self::Access => "access",
        }
    }
}

/// What a row of privileges grants on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GrantKind {
    Cluster,
    Index,
    RemoteIndex,
    /// A cross-cluster key's `access.search`.
    Search,
    /// A cross-cluster key's `access.replication`.
    Replication,
    RunAs,
    Application,
}

impl GrantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cluster => "cluster",
            Self::Index => "index",
            Self::RemoteIndex => "remote_index",
            Self::Search => "search",
            Self::Replication => "replication",
            Self::RunAs => "run_as",
            Self::Application => "application",
        }
    }
}

/// Where a finding's key id comes from (the JSON report's `key_id_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyIdSource {
    /// The failure's own message names it.
    Message,
    /// A credential in the input decodes to it.
    Credential,
    /// `--with-key-env`: the key the user gave.
    StudiedKey,
    /// Inferred from the other inputs (the key known to be in the failure's state then).
    Inference,
    /// Pasted metadata shows one key only, in the failure's state.
    OnlyKeyInMetadata,
    /// Pasted metadata shows several keys, one only in the failure's state.
    OnlyKeyInStateInMetadata,
    /// The cluster's key listing (`doctor`).
    ClusterListing,
    /// The querying cluster's handshake failure (a two-sided scan).
    QueryingHandshake,
}

impl KeyIdSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Credential => "credential in the input",
            Self::StudiedKey => "key given with --with-key-env",
            Self::Inference => "inference",
            Self::OnlyKeyInMetadata => {
                "pasted metadata: the only key shown, and it is in this state"
            }
            Self::OnlyKeyInStateInMetadata => {
                "pasted metadata: the only one of the keys shown in this state"
            }
            Self::ClusterListing => "cluster's key listing",
            Self::QueryingHandshake => "the querying cluster's handshake failure",
        }
    }

    /// Whether the id was inferred rather than read (so a later, better reading may replace it).
    pub fn is_inferred(self) -> bool {
        matches!(
            self,
            Self::Inference | Self::OnlyKeyInMetadata | Self::OnlyKeyInStateInMetadata
        )
    }

    /// Whether it comes from pasted metadata.
    pub fn is_pasted_metadata(self) -> bool {
        matches!(
            self,
            Self::OnlyKeyInMetadata | Self::OnlyKeyInStateInMetadata
        )
    }
}

/// A moment in a key's story (the JSON report's timeline `event`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimelineEvent {
    Created,
    Updated,
    LastSuccess,
    Invalidated,
    Expired,
    /// An expiration still to come.
    Expires,
    FirstFailure,
    LastFailure,
}

impl TimelineEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::LastSuccess => "last_success",
            Self::Invalidated => "invalidated",
            Self::Expired => "expired",
            Self::Expires => "expires",
            Self::FirstFailure => "first_failure",
            Self::LastFailure => "last_failure",
        }
    }

    /// A failure's first or last sighting.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::FirstFailure | Self::LastFailure)
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}

display_as_str!(
    KeyState,
    PrivilegeKind,
    Side,
    KeyIdSource,
    TimelineEvent,
    KeyType,
    DescriptorSource,
    GrantKind
);
