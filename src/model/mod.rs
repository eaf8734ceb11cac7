//! The shared vocabulary at the bottom of the house: small typed values every stage may use
//! (classes, severities, versions, the plan's vocabulary, units). Nothing here imports another
//! module of the crate (`tests/architecture.rs` checks it).

pub mod audit;
pub mod class;
pub mod input;
pub mod key;
pub mod plan;
pub mod units;

pub use audit::AuditAction;
pub use class::{CandidateKind, Class, KnownVersion, MonitorState, RuleClass, Severity, Version};
pub use input::{LogFormat, RecordKind};
pub use key::{
    DescriptorSource, GrantKind, KeyIdSource, KeyState, KeyType, PrivilegeKind, RemoteMode, Side,
    TimelineEvent,
};
pub use plan::*;
pub use units::{format_ms, human_bytes, human_duration};

/// A hash map for the scan's hot paths (keys of groups, template lines, ids): foldhash, several
/// times faster than the standard SipHash on short keys. It is no cryptographic hash, but its
/// seed is drawn per map as the standard map's is, so a log cannot be written to collide in it
/// without knowing the seed. Iteration order is no more fixed than the standard map's: whatever
/// is shown is sorted first.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// The set of [`FastMap`].
pub type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
