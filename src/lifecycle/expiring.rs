//! `keydoctor expiring`: which keys of a set expire within a window, which already did, which
//! never will.
//!
//! - **In**: [`KeyMetadata`] of many keys, the window and "now"; optionally the successes the
//!   scanned logs show (`--logs`).
//! - **Out**: an [`ExpiringReport`].
//! - **Never**: list an invalidated key (it cannot be used), or count a key twice.

use crate::event::key_metadata::KeyMetadata;

/// One key in an expiry report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiringKey {
    pub id: String,
    pub name: Option<String>,
    pub owner: Option<String>,
    pub key_type: Option<crate::model::KeyType>,
    pub expiration_ms: Option<i64>,
    /// Until expiration (negative: since).
    pub expires_in_ms: Option<i64>,
    /// Its use as the scanned logs show it (`expiring --logs`).
    pub usage: Option<Usage>,
}

/// A key's successful authentications in the logs: the "last used" Elasticsearch does not keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub last_ms: i64,
    pub count: usize,
    pub clients: Vec<String>,
    pub users: Vec<String>,
    /// `path:line` of the last success.
    pub source: String,
}

/// `keydoctor expiring`: active keys expiring within the window, expired keys apart, keys that
/// never expire apart (a risk: nothing makes them rotate).
#[derive(Debug, Clone, Default)]
pub struct ExpiringReport {
    pub within_ms: i64,
    pub within: String,
    pub keys: Vec<ExpiringKey>,
    pub expired: Vec<ExpiringKey>,
    pub no_expiration: Vec<ExpiringKey>,
    /// Active keys that expire after the window (not listed by the human report; a metrics
    /// format gives every key's expiry).
    pub later: Vec<ExpiringKey>,
    /// Keys read, and how many were invalidated (never listed: they cannot be used).
    pub total: usize,
    pub invalidated: usize,
    /// What the source could not show.
    pub notes: Vec<String>,
    /// Whether logs were scanned for use (`--logs`): a key without [`ExpiringKey::usage`] then
    /// was not seen authenticating in them.
    pub usage_scanned: bool,
}

impl ExpiringReport {
    /// Join each listed key with its successes in the scanned logs.
    pub fn join_usage(
        &mut self,
        successes: &std::collections::BTreeMap<String, crate::diagnosis::correlate::Successes>,
    ) {
        self.usage_scanned = true;
        for k in self
            .keys
            .iter_mut()
            .chain(self.expired.iter_mut())
            .chain(self.no_expiration.iter_mut())
        {
            k.usage = successes.get(&k.id).map(|s| Usage {
                last_ms: s.last_ms,
                count: s.count,
                clients: s.clients.iter().cloned().collect(),
                users: s.users.iter().cloned().collect(),
                source: s.last_source.clone(),
            });
        }
    }
}

/// Sort `keys` into an [`ExpiringReport`].
pub fn expiring(keys: &[KeyMetadata], within: &str, within_ms: i64, now_ms: i64) -> ExpiringReport {
    let mut report = ExpiringReport {
        within_ms,
        within: within.to_string(),
        total: keys.len(),
        ..Default::default()
    };
    let mut seen = std::collections::BTreeSet::new();
    for k in keys.iter().rev() {
        if !seen.insert(k.id.clone()) {
            continue;
        }
        if k.invalidated {
            report.invalidated += 1;
            continue;
        }
        let entry = ExpiringKey {
            id: k.id.clone(),
            name: k.name.clone(),
            owner: k.username.as_ref().map(|u| match &k.realm {
                Some(r) => format!("{u}@{r}"),
                None => u.clone(),
            }),
            key_type: k.key_type,
            expiration_ms: k.expiration_ms,
            expires_in_ms: k.expiration_ms.map(|e| e - now_ms),
            usage: None,
        };
        match k.expiration_ms {
            None => report.no_expiration.push(entry),
            Some(e) if e <= now_ms => report.expired.push(entry),
            Some(e) if e - now_ms <= within_ms => report.keys.push(entry),
            Some(_) => report.later.push(entry),
        }
    }
    report.keys.sort_by_key(|k| (k.expiration_ms, k.id.clone()));
    report
        .expired
        .sort_by_key(|k| (std::cmp::Reverse(k.expiration_ms), k.id.clone()));
    report.no_expiration.sort_by(|a, b| a.id.cmp(&b.id));
    report
        .later
        .sort_by_key(|k| (k.expiration_ms, k.id.clone()));
    report
}
