//! The live source: a blocking HTTPS client that reads key metadata from a cluster, read-only.
//!
//! - **In**: a URL, credentials from the environment only ([`auth`]), TLS options.
//! - **Out**: [`KeyMetadata`](crate::event::key_metadata::KeyMetadata), as files would give it
//!   ([`api`]), or a [`ClusterError`] that says whose fault it is: the network, TLS, keydoctor's
//!   own credentials (never the key under study), a missing privilege, or an odd answer.
//! - **Never**: print or log a secret, send credentials over plain HTTP to a non-loopback host
//!   unless told to, or make a call that changes anything.

pub mod api;
pub mod audit_index;
pub mod auth;
pub mod client;

pub use client::{Client, ClusterError, Settings};
