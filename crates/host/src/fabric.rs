//! The in-memory MAD fabric joining host devices (nodes), deterministic:
//! datagrams are delivered in (delivery time, send order) on the shared
//! clock, and every fault (loss, duplication, reordering by extra delay,
//! partition, a targeted filter) is decided by a seeded generator or by a
//! test's hook, so a run is replayed exactly from its seed.
//!
//! The fabric only carries 256-byte MADs between GIDs. It never calls a
//! node: whoever drives the world takes the due datagrams (`take_due`) and
//! hands each to its node with no fabric lock held.

use crate::sys::{RawMutex, StdSys, Sys};
use ndcm_cm::platform::{Duration, Instant};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A node on the fabric.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
pub struct NodeId(pub u32);

/// One MAD in flight.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Datagram {
    /// Sender's GID.
    pub src: [u8; 16],
    /// Destination GID.
    pub dst: [u8; 16],
    /// The 256 bytes.
    pub mad: Box<[u8; 256]>,
}

/// What a test's filter decides for one datagram.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Verdict {
    /// Apply the random fault model.
    Pass,
    /// Lose it.
    Drop,
    /// Deliver it this much later than usual (reordering).
    Delay(Duration),
    /// Deliver it twice.
    Duplicate,
}

/// A targeted fault hook (e.g. "lose the first REP").
pub type Filter = Box<dyn FnMut(&Datagram) -> Verdict + Send>;

/// The random fault model, in parts per million.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FaultModel {
    /// Base one-way latency.
    pub latency: Duration,
    /// Chance of losing a datagram.
    pub loss_ppm: u32,
    /// Chance of delivering it twice.
    pub duplicate_ppm: u32,
    /// Chance of adding a random extra delay (up to `max_extra_delay`),
    /// which reorders it against later datagrams.
    pub reorder_ppm: u32,
    /// Largest extra delay.
    pub max_extra_delay: Duration,
}

impl Default for FaultModel {
    /// A perfect fabric with 1 µs latency.
    fn default() -> Self {
        FaultModel {
            latency: Duration::from_micros(1),
            loss_ppm: 0,
            duplicate_ppm: 0,
            reorder_ppm: 0,
            max_extra_delay: Duration::ZERO,
        }
    }
}

/// Counters of what the fabric did.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct FabricStats {
    /// Datagrams handed to `send`.
    pub sent: u64,
    /// Datagrams handed out by `take_due`.
    pub delivered: u64,
    /// Lost (fault, filter, partition, unknown destination).
    pub dropped: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Given extra delay.
    pub delayed: u64,
}

/// SplitMix64: small, seedable, good enough for fault injection.
#[derive(Clone, Debug)]
pub struct SeededRng(u64);

impl SeededRng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        SeededRng(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// True with probability `ppm` / 1 000 000.
    pub fn chance(&mut self, ppm: u32) -> bool {
        ppm > 0 && (self.next_u64() % 1_000_000) < u64::from(ppm)
    }
    /// Uniform in `0..=max`.
    pub fn below_or_eq(&mut self, max: u64) -> u64 {
        if max == u64::MAX {
            self.next_u64()
        } else {
            self.next_u64() % (max + 1)
        }
    }
}

struct Inner {
    nodes: HashMap<[u8; 16], NodeId>,
    next_node: u32,
    in_flight: BTreeMap<(Instant, u64), (NodeId, Datagram)>,
    seq: u64,
    model: FaultModel,
    rng: SeededRng,
    filter: Option<Filter>,
    partitioned: HashSet<(NodeId, NodeId)>,
    stats: FabricStats,
    trace: Option<Vec<(Instant, Datagram)>>,
}

/// The fabric.
pub struct Fabric<S: Sys = StdSys> {
    inner: RawMutex<Inner, S>,
}

impl<S: Sys> Fabric<S> {
    /// A fabric with `model`, its random faults drawn from `seed`.
    pub fn new(model: FaultModel, seed: u64) -> Self {
        Fabric {
            inner: RawMutex::new(Inner {
                nodes: HashMap::new(),
                next_node: 1,
                in_flight: BTreeMap::new(),
                seq: 0,
                model,
                rng: SeededRng::new(seed),
                filter: None,
                partitioned: HashSet::new(),
                stats: FabricStats::default(),
                trace: None,
            }),
        }
    }

    /// Joins a node owning `gids`.
    pub fn attach(&self, gids: &[[u8; 16]]) -> NodeId {
        self.inner.with(|i| {
            let id = NodeId(i.next_node);
            i.next_node += 1;
            for g in gids {
                let _ = i.nodes.insert(*g, id);
            }
            id
        })
    }

    /// The node owning `gid`.
    pub fn node_of(&self, gid: &[u8; 16]) -> Option<NodeId> {
        self.inner.with(|i| i.nodes.get(gid).copied())
    }

    /// Replaces the random fault model.
    pub fn set_model(&self, model: FaultModel) {
        self.inner.with(|i| i.model = model);
    }

    /// Installs (or removes) a targeted filter, consulted before the model.
    pub fn set_filter(&self, filter: Option<Filter>) {
        self.inner.with(|i| i.filter = filter);
    }

    /// Cuts (or restores) both directions between `a` and `b`.
    pub fn partition(&self, a: NodeId, b: NodeId, cut: bool) {
        self.inner.with(|i| {
            for pair in [(a, b), (b, a)] {
                if cut {
                    let _ = i.partitioned.insert(pair);
                } else {
                    let _ = i.partitioned.remove(&pair);
                }
            }
        });
    }

    /// Starts recording every datagram sent (for captures).
    pub fn record(&self) {
        self.inner.with(|i| i.trace = Some(Vec::new()));
    }

    /// The recorded datagrams, oldest first.
    pub fn take_trace(&self) -> Vec<(Instant, Datagram)> {
        self.inner
            .with(|i| i.trace.as_mut().map(std::mem::take).unwrap_or_default())
    }

    /// Sends a datagram at `now`: it is scheduled for delivery (perhaps
    /// twice, perhaps late) or lost, as the filter and model decide.
    pub fn send(&self, now: Instant, datagram: Datagram) {
        self.inner.with(|i| {
            i.stats.sent += 1;
            if let Some(t) = i.trace.as_mut() {
                t.push((now, datagram.clone()));
            }
            let (Some(&from), Some(&to)) = (i.nodes.get(&datagram.src), i.nodes.get(&datagram.dst))
            else {
                i.stats.dropped += 1;
                return;
            };
            if i.partitioned.contains(&(from, to)) {
                i.stats.dropped += 1;
                return;
            }
            let verdict = i.filter.as_mut().map_or(Verdict::Pass, |f| f(&datagram));
            let model = i.model;
            let mut copies = 1;
            let mut extra = Duration::ZERO;
            match verdict {
                Verdict::Drop => {
                    i.stats.dropped += 1;
                    return;
                }
                Verdict::Delay(d) => extra = d,
                Verdict::Duplicate => copies = 2,
                Verdict::Pass => {
                    if i.rng.chance(model.loss_ppm) {
                        i.stats.dropped += 1;
                        return;
                    }
                    if i.rng.chance(model.duplicate_ppm) {
                        copies = 2;
                    }
                    if i.rng.chance(model.reorder_ppm) {
                        extra = Duration(i.rng.below_or_eq(model.max_extra_delay.0));
                    }
                }
            }
            if copies == 2 {
                i.stats.duplicated += 1;
            }
            if extra > Duration::ZERO {
                i.stats.delayed += 1;
            }
            for copy in 0..copies {
                i.seq += 1;
                // A duplicate trails the original by one latency.
                let at = now + model.latency + extra + model.latency.saturating_mul(copy);
                let _ = i.in_flight.insert((at, i.seq), (to, datagram.clone()));
            }
        });
    }

    /// The next delivery time, if anything is in flight.
    pub fn next_delivery(&self) -> Option<Instant> {
        self.inner
            .with(|i| i.in_flight.keys().next().map(|(at, _)| *at))
    }

    /// Removes and returns the datagrams due at `now`, in delivery order.
    pub fn take_due(&self, now: Instant) -> Vec<(NodeId, Datagram)> {
        self.inner.with(|i| {
            let mut due = Vec::new();
            while let Some(entry) = i.in_flight.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                due.push(entry.remove());
            }
            i.stats.delivered += due.len() as u64;
            due
        })
    }

    /// Datagrams in flight.
    pub fn in_flight(&self) -> usize {
        self.inner.with(|i| i.in_flight.len())
    }

    /// Counters.
    pub fn stats(&self) -> FabricStats {
        self.inner.with(|i| i.stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gid(n: u8) -> [u8; 16] {
        let mut g = [0; 16];
        g[15] = n;
        g
    }

    fn dgram(src: u8, dst: u8, tag: u8) -> Datagram {
        let mut mad = Box::new([0; 256]);
        mad[0] = tag;
        Datagram {
            src: gid(src),
            dst: gid(dst),
            mad,
        }
    }

    #[test]
    fn perfect_fabric_delivers_in_send_order_after_the_latency() {
        let f: Fabric = Fabric::new(FaultModel::default(), 1);
        let a = f.attach(&[gid(1)]);
        let b = f.attach(&[gid(2)]);
        f.send(Instant(0), dgram(1, 2, 10));
        f.send(Instant(0), dgram(2, 1, 11));
        assert!(f.take_due(Instant(999)).is_empty());
        let got = f.take_due(Instant(1_000));
        assert_eq!(
            got.iter().map(|(n, d)| (*n, d.mad[0])).collect::<Vec<_>>(),
            vec![(b, 10), (a, 11)]
        );
        assert_eq!(f.stats().delivered, 2);
    }

    #[test]
    fn unknown_destination_and_partition_drop() {
        let f: Fabric = Fabric::new(FaultModel::default(), 1);
        let a = f.attach(&[gid(1)]);
        let b = f.attach(&[gid(2)]);
        f.send(Instant(0), dgram(1, 9, 0));
        f.partition(a, b, true);
        f.send(Instant(0), dgram(1, 2, 0));
        f.partition(a, b, false);
        f.send(Instant(0), dgram(1, 2, 0));
        assert_eq!(f.take_due(Instant(10_000)).len(), 1);
        assert_eq!(f.stats().dropped, 2);
    }

    #[test]
    fn filter_drops_duplicates_and_delays_targeted_datagrams() {
        let f: Fabric = Fabric::new(FaultModel::default(), 1);
        let _ = f.attach(&[gid(1)]);
        let _ = f.attach(&[gid(2)]);
        f.set_filter(Some(Box::new(|d| match d.mad[0] {
            1 => Verdict::Drop,
            2 => Verdict::Duplicate,
            3 => Verdict::Delay(Duration::from_micros(5)),
            _ => Verdict::Pass,
        })));
        for tag in [3, 1, 2, 4] {
            f.send(Instant(0), dgram(1, 2, tag));
        }
        let order: Vec<u8> = f
            .take_due(Instant(1_000_000))
            .iter()
            .map(|(_, d)| d.mad[0])
            .collect();
        assert_eq!(order, vec![2, 4, 2, 3]);
    }

    #[test]
    fn the_same_seed_replays_the_same_faults() {
        let run = |seed| {
            let f: Fabric = Fabric::new(
                FaultModel {
                    loss_ppm: 200_000,
                    duplicate_ppm: 100_000,
                    reorder_ppm: 300_000,
                    max_extra_delay: Duration::from_micros(50),
                    ..FaultModel::default()
                },
                seed,
            );
            let _ = f.attach(&[gid(1)]);
            let _ = f.attach(&[gid(2)]);
            for tag in 0..100u8 {
                f.send(Instant(u64::from(tag) * 100), dgram(1, 2, tag));
            }
            let got: Vec<u8> = f
                .take_due(Instant(u64::MAX))
                .iter()
                .map(|(_, d)| d.mad[0])
                .collect();
            (got, f.stats())
        };
        let (a, sa) = run(7);
        assert_eq!(run(7), (a.clone(), sa));
        assert_ne!(run(8).0, a);
        assert!(
            sa.dropped > 0 && sa.duplicated > 0 && sa.delayed > 0,
            "{sa:?}"
        );
        let mut sorted = a.clone();
        sorted.sort();
        assert_ne!(a, sorted, "some datagrams were reordered");
    }
}
