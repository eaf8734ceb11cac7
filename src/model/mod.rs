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
