//! Taking one request out of a KMDF manual queue by what it waits for: the
//! walk the driver's `Requests::retrieve*` (driver/src/queue.rs) makes with
//! `WdfIoQueueFindRequest` / `WdfIoQueueRetrieveFoundRequest`, kept here so
//! that every test runs it against a queue with KMDF's find semantics.
//!
//! KMDF's rules, as [`FoundQueue`] states them:
//! - `find(None)` returns the oldest request, `find(Some(previous))` the one
//!   after `previous`, each with a reference the caller must release
//!   (`WdfObjectDereference`), including `previous`'s after the call. No
//!   more requests is `STATUS_NO_MORE_ENTRIES`; a `previous` that left the
//!   queue meanwhile (cancelled, or retrieved by another thread) is
//!   `STATUS_NOT_FOUND`.
//! - `retrieve_found(found)` takes a found request out of the queue, or
//!   fails with `STATUS_NOT_FOUND` if it left the queue since it was found;
//!   the find reference is still the caller's to release.
//!
//! A request cancelled in the middle of a walk therefore restarts it from
//! the head. The walk is bounded ([`MAX_FIND_STEPS`]): a queue holds the
//! few requests of one connection, listener or MAD agent, and a restart
//! needs a cancellation between two calls, so the bound is never reached in
//! practice; reaching it reports "none", which the dispatcher treats like a
//! request being cancelled.

use crate::abi::NtStatus;
use crate::requests::{PendInfo, PendKind};

/// `STATUS_NOT_FOUND`: the request named left the queue.
pub const STATUS_NOT_FOUND: NtStatus = NtStatus(0xC000_0225);

/// Find and retrieve calls one walk makes at most (steps plus restarts).
pub const MAX_FIND_STEPS: u32 = 1 << 16;

/// Which queued request a retrieval wants (spec/NDI.md §6 rule 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// The oldest of this kind (`Requests::retrieve`).
    Kind(PendKind),
    /// The oldest of this kind with this tag (`Requests::retrieve_tagged`).
    Tagged(PendKind, u64),
    /// The oldest that is not a NOTIFY_DREQ, which stays queued
    /// (`Requests::retrieve_any`; not `WdfIoQueueRetrieveNextRequest`).
    AnyButNotifyDreq,
}

impl Want {
    /// Whether a request pended with `info` is wanted.
    pub fn matches(self, info: &PendInfo) -> bool {
        match self {
            Want::Kind(kind) => info.kind == kind,
            Want::Tagged(kind, tag) => info.kind == kind && info.tag == tag,
            Want::AnyButNotifyDreq => info.kind != PendKind::NotifyDreq,
        }
    }
}

/// A manual queue as KMDF's find/retrieve calls see it; each method is one
/// framework call.
pub trait FoundQueue {
    /// A found request, held by a find reference (`WDFREQUEST`).
    type Found: Copy;
    /// A request taken out of the queue (the owned request).
    type Taken;

    /// `WdfIoQueueFindRequest(queue, previous)`: the first request after
    /// `previous` (or the oldest), with a new reference; the error status
    /// otherwise.
    fn find(&self, previous: Option<Self::Found>) -> Result<Self::Found, NtStatus>;

    /// What a found request waits for (its pend record), if it was pended.
    fn info(&self, found: Self::Found) -> Option<PendInfo>;

    /// `WdfIoQueueRetrieveFoundRequest(queue, found)`.
    fn retrieve_found(&self, found: Self::Found) -> Result<Self::Taken, NtStatus>;

    /// Releases the reference `find` took (`WdfObjectDereference`).
    fn release(&self, found: Self::Found);
}

/// Walks `queue` oldest first and takes out the first request `want`s,
/// with its pend record; `None` if there is none (or the walk hit its
/// bound). Every find reference is released exactly once.
pub fn find_and_retrieve<Q: FoundQueue>(queue: &Q, want: Want) -> Option<(Q::Taken, PendInfo)> {
    let mut previous: Option<Q::Found> = None;
    for _ in 0..MAX_FIND_STEPS {
        let found = queue.find(previous);
        if let Some(previous) = previous.take() {
            queue.release(previous);
        }
        let found = match found {
            Ok(found) => found,
            // `previous` left the queue: start again from the head.
            Err(STATUS_NOT_FOUND) => continue,
            // STATUS_NO_MORE_ENTRIES: nothing (more) matches.
            Err(_) => return None,
        };
        match queue.info(found) {
            Some(info) if want.matches(&info) => {
                let taken = queue.retrieve_found(found);
                queue.release(found);
                match taken {
                    // The pend record is left as it is: another walker may
                    // still hold a find reference and read it.
                    Ok(taken) => return Some((taken, info)),
                    // Cancelled since it was found: start again.
                    Err(STATUS_NOT_FOUND) => {}
                    Err(_) => return None,
                }
            }
            _ => previous = Some(found),
        }
    }
    if let Some(previous) = previous {
        queue.release(previous);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use alloc::vec::Vec;
    use core::cell::RefCell;

    /// `STATUS_NO_MORE_ENTRIES`.
    const NO_MORE_ENTRIES: NtStatus = NtStatus(0x8000_001A);

    /// When the fake's user cancels a request: before the `at`-th call
    /// (find, info or retrieve; counted from 0).
    #[derive(Clone, Copy, Debug)]
    struct Cancel {
        at: usize,
        id: u32,
    }

    /// A KMDF manual queue: requests (id, pend record) oldest first, find
    /// references counted per id.
    #[derive(Default)]
    struct FakeQueue {
        state: RefCell<State>,
    }

    #[derive(Default)]
    struct State {
        queued: Vec<(u32, Option<PendInfo>)>,
        /// Pend records by id: they outlive a request's stay in the queue.
        records: Vec<Option<PendInfo>>,
        references: BTreeMap<u32, u32>,
        calls: usize,
        finds: u32,
        cancels: Vec<Cancel>,
        cancelled: Vec<u32>,
        /// Every find after a previous answers STATUS_NOT_FOUND (a queue
        /// whose requests keep being cancelled and re-queued).
        always_lost: bool,
        /// retrieve_found fails with this status.
        retrieve_fails: Option<NtStatus>,
    }

    impl State {
        /// Counts a call, running a cancellation due before it.
        fn call(&mut self) {
            let due: Vec<Cancel> = self
                .cancels
                .iter()
                .copied()
                .filter(|c| c.at == self.calls)
                .collect();
            for c in due {
                if let Some(pos) = self.queued.iter().position(|(id, _)| *id == c.id) {
                    self.queued.remove(pos);
                    self.cancelled.push(c.id);
                }
            }
            self.calls += 1;
        }

        fn held(&self, id: u32) -> bool {
            self.references.get(&id).is_some_and(|n| *n > 0)
        }
    }

    impl FakeQueue {
        fn new(requests: &[Option<PendInfo>]) -> Self {
            let queue = FakeQueue::default();
            let mut s = queue.state.borrow_mut();
            s.queued = (0..).zip(requests.iter().copied()).collect();
            s.records = requests.to_vec();
            drop(s);
            queue
        }

        fn cancel(self, at: usize, id: u32) -> Self {
            self.state.borrow_mut().cancels.push(Cancel { at, id });
            self
        }

        fn ids(&self) -> Vec<u32> {
            self.state
                .borrow()
                .queued
                .iter()
                .map(|(id, _)| *id)
                .collect()
        }

        /// Every reference taken was released.
        fn assert_released(&self) {
            let s = self.state.borrow();
            assert!(
                s.references.values().all(|n| *n == 0),
                "references left: {:?}",
                s.references
            );
        }
    }

    impl FoundQueue for FakeQueue {
        type Found = u32;
        type Taken = u32;

        fn find(&self, previous: Option<u32>) -> Result<u32, NtStatus> {
            let mut s = self.state.borrow_mut();
            s.call();
            s.finds += 1;
            let start = match previous {
                None => 0,
                Some(p) => {
                    assert!(s.held(p), "find after an unreferenced {p}");
                    if s.always_lost {
                        return Err(STATUS_NOT_FOUND);
                    }
                    match s.queued.iter().position(|(id, _)| *id == p) {
                        Some(pos) => pos + 1,
                        None => return Err(STATUS_NOT_FOUND),
                    }
                }
            };
            let Some(&(id, _)) = s.queued.get(start) else {
                return Err(NO_MORE_ENTRIES);
            };
            *s.references.entry(id).or_insert(0) += 1;
            Ok(id)
        }

        fn info(&self, found: u32) -> Option<PendInfo> {
            let mut s = self.state.borrow_mut();
            s.call();
            assert!(s.held(found), "info of an unreferenced {found}");
            s.records[found as usize]
        }

        fn retrieve_found(&self, found: u32) -> Result<u32, NtStatus> {
            let mut s = self.state.borrow_mut();
            s.call();
            assert!(s.held(found), "retrieve of an unreferenced {found}");
            if let Some(status) = s.retrieve_fails {
                return Err(status);
            }
            match s.queued.iter().position(|(id, _)| *id == found) {
                Some(pos) => Ok(s.queued.remove(pos).0),
                None => Err(STATUS_NOT_FOUND),
            }
        }

        fn release(&self, found: u32) {
            let mut s = self.state.borrow_mut();
            let n = s.references.entry(found).or_insert(0);
            assert!(*n > 0, "{found} released more often than found");
            *n -= 1;
        }
    }

    fn pend(kind: PendKind, tag: u64) -> Option<PendInfo> {
        Some(PendInfo { kind, tag })
    }

    use PendKind::{DreqCm, GetReqCm, NotifyDreq, RepCm, ReqCm};

    #[test]
    fn an_empty_queue_yields_nothing() {
        let q = FakeQueue::new(&[]);
        assert!(find_and_retrieve(&q, Want::AnyButNotifyDreq).is_none());
        q.assert_released();
    }

    #[test]
    fn the_oldest_match_is_taken_and_the_rest_stays() {
        let q = FakeQueue::new(&[
            pend(NotifyDreq, 0),
            None,
            pend(GetReqCm, 7),
            pend(GetReqCm, 9),
            pend(GetReqCm, 9),
        ]);
        let (id, info) = find_and_retrieve(&q, Want::Tagged(GetReqCm, 9)).unwrap();
        assert_eq!(
            (id, info),
            (
                3,
                PendInfo {
                    kind: GetReqCm,
                    tag: 9
                }
            )
        );
        assert_eq!(q.ids(), [0, 1, 2, 4]);
        q.assert_released();
        assert_eq!(find_and_retrieve(&q, Want::Kind(GetReqCm)).unwrap().0, 2);
        assert!(find_and_retrieve(&q, Want::Kind(ReqCm)).is_none());
        q.assert_released();
    }

    #[test]
    fn any_skips_a_notify_dreq_and_unpended_requests() {
        let q = FakeQueue::new(&[pend(NotifyDreq, 0), None, pend(DreqCm, 0)]);
        assert_eq!(find_and_retrieve(&q, Want::AnyButNotifyDreq).unwrap().0, 2);
        assert!(find_and_retrieve(&q, Want::AnyButNotifyDreq).is_none());
        assert_eq!(q.ids(), [0, 1], "the NOTIFY_DREQ stays queued");
        assert_eq!(find_and_retrieve(&q, Want::Kind(NotifyDreq)).unwrap().0, 0);
        q.assert_released();
    }

    #[test]
    fn a_match_cancelled_before_retrieval_restarts_the_walk() {
        // Calls: find 0 (0), info 0 (1), find 1 (2), info 1 (3), retrieve 1
        // (4): request 1 is cancelled just before its retrieval.
        let q = FakeQueue::new(&[pend(NotifyDreq, 0), pend(RepCm, 0), pend(RepCm, 0)]).cancel(4, 1);
        assert_eq!(find_and_retrieve(&q, Want::Kind(RepCm)).unwrap().0, 2);
        assert_eq!(q.state.borrow().cancelled, [1]);
        assert_eq!(q.ids(), [0]);
        q.assert_released();

        let q = FakeQueue::new(&[pend(RepCm, 0)]).cancel(2, 0);
        assert!(find_and_retrieve(&q, Want::Kind(RepCm)).is_none());
        q.assert_released();
    }

    #[test]
    fn a_skipped_request_cancelled_before_the_next_find_restarts_the_walk() {
        // Request 0 is skipped (calls 0, 1), then cancelled before the find
        // after it (call 2): STATUS_NOT_FOUND, the walk starts again.
        let q = FakeQueue::new(&[pend(NotifyDreq, 0), pend(ReqCm, 0)]).cancel(2, 0);
        assert_eq!(find_and_retrieve(&q, Want::Kind(ReqCm)).unwrap().0, 1);
        assert_eq!(q.state.borrow().cancelled, [0]);
        q.assert_released();
    }

    #[test]
    fn a_failed_retrieval_yields_nothing() {
        let q = FakeQueue::new(&[pend(ReqCm, 0)]);
        q.state.borrow_mut().retrieve_fails = Some(NtStatus::INVALID_DEVICE_STATE);
        assert!(find_and_retrieve(&q, Want::Kind(ReqCm)).is_none());
        assert_eq!(q.ids(), [0]);
        q.assert_released();
    }

    #[test]
    fn the_walk_is_bounded() {
        let q = FakeQueue::new(&[pend(NotifyDreq, 0), pend(ReqCm, 0)]);
        q.state.borrow_mut().always_lost = true;
        assert!(find_and_retrieve(&q, Want::Kind(ReqCm)).is_none());
        assert_eq!(q.state.borrow().finds, MAX_FIND_STEPS);
        assert_eq!(q.ids(), [0, 1]);
        q.assert_released();
    }

    /// Every queue of up to four requests of three kinds, every wanted
    /// kind, and one request cancelled before any call of the walk: the
    /// walk takes the oldest match among the requests not cancelled before
    /// they were taken, leaves the rest, and releases every reference.
    #[test]
    fn one_cancellation_anywhere_in_the_walk() {
        let kinds = [NotifyDreq, ReqCm, RepCm];
        for len in 0..=4u32 {
            for shape in 0..3u32.pow(len) {
                let mut requests = Vec::new();
                let mut rest = shape;
                for _ in 0..len {
                    requests.push(pend(kinds[(rest % 3) as usize], 0));
                    rest /= 3;
                }
                for want in [Want::Kind(ReqCm), Want::AnyButNotifyDreq] {
                    for victim in 0..len {
                        for at in 0..(3 * len as usize + 2) {
                            let q = FakeQueue::new(&requests).cancel(at, victim);
                            let got = find_and_retrieve(&q, want);
                            q.assert_released();
                            let cancelled = q.state.borrow().cancelled.clone();
                            let expected = (0..len).find(|&id| {
                                !cancelled.contains(&id)
                                    && want.matches(&requests[id as usize].unwrap())
                            });
                            let case = (&requests, want, victim, at);
                            assert_eq!(got.map(|(id, _)| id), expected, "{case:?}");
                            let left: Vec<u32> = (0..len)
                                .filter(|id| Some(*id) != expected && !cancelled.contains(id))
                                .collect();
                            assert_eq!(q.ids(), left, "{case:?}");
                        }
                    }
                }
            }
        }
    }
}
