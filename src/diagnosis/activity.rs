//! A finding's failures over time, per node and client: what the HTML report's incident
//! timeline draws.
//!
//! - **In**: one `(node, client, time)` per failure: from the records a paste holds
//!   (`classify`), or from every failure a scan saw (`correlate`, whose failure times are
//!   bounded per group; those not kept are counted as [`Activity::undrawn`]).
//! - **Out**: counts in [`Activity::BINS`] equal bins over the span of the failures, one lane per
//!   node and client, busiest first, at most [`Activity::MAX_LANES`] (the rest are one lane).
//! - **Never**: invent a time: a failure without one is counted in [`Activity::untimed`].

use std::collections::BTreeMap;

/// The failures of one finding over time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    /// The first failure (epoch ms), the start of the first bin.
    pub start_ms: i64,
    /// The last failure (epoch ms), inside the last bin.
    pub end_ms: i64,
    /// Milliseconds per bin (at least 1).
    pub bin_ms: i64,
    /// One per node and client, busiest first.
    pub lanes: Vec<Lane>,
    /// Failures whose time the scan counted but did not keep (beyond its bound per group).
    pub undrawn: usize,
    /// Failures whose line carries no time.
    pub untimed: usize,
}

/// The failures one node logged for one client (either may be unknown).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lane {
    /// The node as the lines name it, or the directory of the log that has no node name (a
    /// client's own log: `filebeat/`).
    pub node: String,
    /// The client's address, where the lines carry it.
    pub client: Option<String>,
    /// Failures per bin, [`Activity::BINS`] of them.
    pub counts: Vec<u32>,
    pub total: usize,
    /// How many lanes this one stands for (more than one: the quietest merged).
    pub merged: usize,
}

impl Activity {
    /// Bins across the span of the failures.
    pub const BINS: usize = 60;
    /// Lanes drawn; the quietest beyond are merged into one.
    pub const MAX_LANES: usize = 12;

    /// The activity of these failures, `None` when none has a time.
    pub fn build(
        failures: impl IntoIterator<Item = (String, Option<String>, i64)>,
        undrawn: usize,
        untimed: usize,
    ) -> Option<Activity> {
        let mut by_lane: BTreeMap<(String, Option<String>), Vec<i64>> = BTreeMap::new();
        for (node, client, ms) in failures {
            by_lane.entry((node, client)).or_default().push(ms);
        }
        let start_ms = by_lane.values().flatten().copied().min()?;
        let end_ms = by_lane.values().flatten().copied().max()?;
        // The last failure falls inside the last bin.
        let bin_ms = ((end_ms - start_ms) / Self::BINS as i64 + 1).max(1);
        let bin = |ms: i64| (((ms - start_ms) / bin_ms) as usize).min(Self::BINS - 1);
        let mut lanes: Vec<Lane> = by_lane
            .into_iter()
            .map(|((node, client), times)| {
                let mut counts = vec![0u32; Self::BINS];
                for &ms in &times {
                    counts[bin(ms)] = counts[bin(ms)].saturating_add(1);
                }
                Lane {
                    node,
                    client,
                    counts,
                    total: times.len(),
                    merged: 1,
                }
            })
            .collect();
        lanes.sort_by(|a, b| {
            b.total
                .cmp(&a.total)
                .then_with(|| a.node.cmp(&b.node))
                .then_with(|| a.client.cmp(&b.client))
        });
        if lanes.len() > Self::MAX_LANES {
            let rest = lanes.split_off(Self::MAX_LANES - 1);
            let mut other = Lane {
                node: format!("{} other nodes and clients", rest.len()),
                client: None,
                counts: vec![0; Self::BINS],
                total: 0,
                merged: 0,
            };
            for lane in rest {
                for (sum, n) in other.counts.iter_mut().zip(&lane.counts) {
                    *sum = sum.saturating_add(*n);
                }
                other.total += lane.total;
                other.merged += lane.merged;
            }
            lanes.push(other);
        }
        Some(Activity {
            start_ms,
            end_ms,
            bin_ms,
            lanes,
            undrawn,
            untimed,
        })
    }

    /// Failures drawn (in a bin).
    pub fn drawn(&self) -> usize {
        self.lanes.iter().map(|l| l.total).sum()
    }

    /// The busiest bin of any lane (the scale of the drawing).
    pub fn peak(&self) -> u32 {
        self.lanes
            .iter()
            .flat_map(|l| l.counts.iter().copied())
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(node: &str, ms: i64) -> (String, Option<String>, i64) {
        (node.to_string(), None, ms)
    }

    #[test]
    fn every_failure_lands_in_one_bin_of_its_lane() {
        let a = Activity::build([at("n1", 1_000), at("n1", 61_000), at("n2", 31_000)], 2, 1)
            .expect("timed failures");
        assert_eq!((a.start_ms, a.end_ms), (1_000, 61_000));
        assert_eq!(a.drawn(), 3);
        assert_eq!((a.undrawn, a.untimed), (2, 1));
        let n1 = &a.lanes[0];
        assert_eq!((n1.node.as_str(), n1.total), ("n1", 2));
        assert_eq!(n1.counts.len(), Activity::BINS);
        assert_eq!(n1.counts[0], 1);
        assert_eq!(
            n1.counts[Activity::BINS - 1],
            1,
            "the last failure is in the last bin"
        );
        assert_eq!(a.lanes[1].counts.iter().sum::<u32>(), 1);
    }

    #[test]
    fn one_instant_is_one_bin_and_no_time_is_no_activity() {
        let a = Activity::build([at("n", 5), at("n", 5)], 0, 0).expect("timed");
        assert_eq!(a.lanes[0].counts[0], 2);
        assert_eq!(a.peak(), 2);
        assert_eq!(Activity::build(Vec::new(), 0, 3), None);
    }

    #[test]
    fn the_quietest_lanes_merge_into_one() {
        let failures: Vec<_> = (0..20)
            .flat_map(|n| (0..=n).map(move |i| at(&format!("node-{n:02}"), i64::from(i) * 1000)))
            .collect();
        let total = failures.len();
        let a = Activity::build(failures, 0, 0).expect("timed");
        assert_eq!(a.lanes.len(), Activity::MAX_LANES);
        assert_eq!(a.lanes[0].node, "node-19", "busiest first");
        let other = a.lanes.last().expect("merged lane");
        assert_eq!(other.merged, 20 - (Activity::MAX_LANES - 1));
        assert_eq!(a.drawn(), total, "merging loses no failure");
    }
}
