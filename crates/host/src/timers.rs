//! The host's timers: deadlines keyed by what they are for (a CM timer's
//! CID), fired in deadline order by whoever drives the clock.
//!
//! The CM core is sans-IO: it returns "arm (cid, deadline)" and "cancel
//! (cid)". This queue remembers them; `expired(now)` hands back the keys
//! whose deadline has passed, earliest first, and forgets them, so the
//! caller can call the manager's `on_timer` with no lock held. Arming a key
//! again replaces its deadline, like KeSetTimer on a timer already set.
//! Never calls anything itself.

use ndcm_cm::platform::Instant;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// Deadlines by key.
#[derive(Debug)]
pub struct TimerQueue<K> {
    by_deadline: BTreeMap<(Instant, u64), K>,
    by_key: HashMap<K, (Instant, u64)>,
    seq: u64,
}

impl<K> Default for TimerQueue<K> {
    fn default() -> Self {
        TimerQueue {
            by_deadline: BTreeMap::new(),
            by_key: HashMap::new(),
            seq: 0,
        }
    }
}

impl<K: Clone + Eq + Hash> TimerQueue<K> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to fire at `deadline`, replacing an earlier setting.
    pub fn arm(&mut self, key: K, deadline: Instant) {
        self.cancel(&key);
        self.seq += 1;
        let slot = (deadline, self.seq);
        let _ = self.by_deadline.insert(slot, key.clone());
        let _ = self.by_key.insert(key, slot);
    }

    /// Cancels `key`; returns whether it was armed.
    pub fn cancel(&mut self, key: &K) -> bool {
        match self.by_key.remove(key) {
            Some(slot) => self.by_deadline.remove(&slot).is_some(),
            None => false,
        }
    }

    /// The earliest deadline, if any timer is armed.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.by_deadline.keys().next().map(|(d, _)| *d)
    }

    /// Removes and returns the keys due at `now`, earliest first (ties in
    /// arming order).
    pub fn expired(&mut self, now: Instant) -> Vec<(K, Instant)> {
        let mut due = Vec::new();
        while let Some(entry) = self.by_deadline.first_entry() {
            let (deadline, _) = *entry.key();
            if deadline > now {
                break;
            }
            let key = entry.remove();
            let _ = self.by_key.remove(&key);
            due.push((key, deadline));
        }
        due
    }

    /// Number of armed timers.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_due_timers_in_deadline_order_and_only_once() {
        let mut q = TimerQueue::new();
        q.arm("b", Instant(20));
        q.arm("a", Instant(10));
        q.arm("c", Instant(30));
        assert_eq!(q.next_deadline(), Some(Instant(10)));
        assert_eq!(
            q.expired(Instant(25)),
            vec![("a", Instant(10)), ("b", Instant(20))]
        );
        assert!(q.expired(Instant(25)).is_empty());
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn rearm_replaces_and_cancel_removes() {
        let mut q = TimerQueue::new();
        q.arm(1u32, Instant(10));
        q.arm(1u32, Instant(50));
        assert!(q.expired(Instant(20)).is_empty());
        assert!(q.cancel(&1));
        assert!(!q.cancel(&1));
        assert!(q.expired(Instant(100)).is_empty());
        assert!(q.is_empty());
    }
}
