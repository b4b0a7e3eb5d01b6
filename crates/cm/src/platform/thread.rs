//! How the Windows kernel's answers to "who is running?" become a
//! [`ThreadId`], kept here so it is tested on any machine; `driver/` only
//! makes the three calls (`PsGetCurrentThreadId`,
//! `KeGetCurrentProcessorNumberEx`, `KeIsExecutingDpc`).
//!
//! A DPC runs on whatever thread it interrupted, so the thread id alone
//! would take a DPC for that thread: a callback's scope held by the
//! interrupted thread would pass the S1 check inside the DPC. What tells a
//! running DPC apart is the processor: a DPC cannot leave its processor and
//! two ordinary DPCs never nest on one. The idle threads (id 0, one per
//! processor) are named by their processor too. A thread at PASSIVE or APC
//! level may change processors between two calls, so its identity must not
//! include the processor.
//!
//! Layout, never 0:
//!
//! | bits   | value                                                     |
//! |--------|-----------------------------------------------------------|
//! | 63     | executing a DPC                                           |
//! | 48..63 | processor index + 1 if pinned (in a DPC, or thread id 0), else 0 |
//! | 0..48  | the thread id (folded if wider than 48 bits)              |

use super::ThreadId;
use core::num::NonZeroU64;

/// What the kernel reports about the code running now.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct KernelContext {
    /// `PsGetCurrentThreadId()`: the current (for a DPC: the interrupted)
    /// thread's id, 0 for an idle thread.
    pub thread_id: u64,
    /// `KeGetCurrentProcessorNumberEx(NULL)`: the system-wide processor
    /// index.
    pub processor: u32,
    /// `KeIsExecutingDpc()`: a DPC is running on this processor.
    pub executing_dpc: bool,
}

const DPC: u64 = 1 << 63;
const PROCESSOR_SHIFT: u32 = 48;
/// 15 bits for the processor index + 1 (Windows has at most 2,048).
const PROCESSOR_MASK: u64 = (1 << 15) - 1;
const THREAD_MASK: u64 = (1 << PROCESSOR_SHIFT) - 1;

impl ThreadId {
    /// The identity of the code running in `ctx` (layout in the module
    /// documentation). Thread ids are handle-table indices, far below
    /// 2^48; a wider one is folded into 48 bits rather than cut off.
    pub fn from_kernel(ctx: KernelContext) -> ThreadId {
        let thread = (ctx.thread_id ^ (ctx.thread_id >> PROCESSOR_SHIFT)) & THREAD_MASK;
        let pinned = ctx.executing_dpc || thread == 0;
        let processor = if pinned {
            u64::from(ctx.processor)
                .saturating_add(1)
                .min(PROCESSOR_MASK)
        } else {
            0
        };
        let dpc = if ctx.executing_dpc { DPC } else { 0 };
        let tag = dpc | (processor << PROCESSOR_SHIFT) | thread;
        // Never 0: either the thread bits are set, or `pinned` put a
        // processor number of at least 1 in.
        ThreadId(NonZeroU64::new(tag).unwrap_or(NonZeroU64::MIN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(thread_id: u64, processor: u32, executing_dpc: bool) -> ThreadId {
        ThreadId::from_kernel(KernelContext {
            thread_id,
            processor,
            executing_dpc,
        })
    }

    #[test]
    fn a_dpc_is_not_the_thread_it_interrupted() {
        assert_ne!(id(0x1234, 3, true), id(0x1234, 3, false));
    }

    #[test]
    fn a_thread_keeps_its_identity_when_it_changes_processor() {
        assert_eq!(id(0x1234, 0, false), id(0x1234, 5, false));
        assert_eq!(id(0x1234, 0, false).0.get(), 0x1234);
    }

    #[test]
    fn dpcs_on_different_processors_differ() {
        assert_ne!(id(0x1234, 0, true), id(0x1234, 1, true));
        assert_ne!(id(0, 0, true), id(0, 1, true));
    }

    #[test]
    fn idle_threads_are_named_by_their_processor_and_never_zero() {
        assert_ne!(id(0, 0, false), id(0, 1, false));
        assert_ne!(id(0, 0, false), id(0, 0, true));
        assert_eq!(id(0, 0, false).0.get(), 1 << 48);
        assert_eq!(id(0, 0, true).0.get(), (1 << 63) | (1 << 48));
    }

    #[test]
    fn a_dpc_is_not_a_thread_whose_id_looks_like_its_tag() {
        // No thread id (< 2^48) can reach the DPC or processor bits.
        let dpc = id(4, 2, true);
        assert_ne!(dpc, id(dpc.0.get() & THREAD_MASK, 2, false));
        assert_eq!(dpc.0.get() >> 63, 1);
    }

    #[test]
    fn wide_ids_are_folded_not_cut_off_and_stay_non_zero() {
        let low = 0x0000_0000_0000_1000;
        let wide = 0x0001_0000_0000_1000;
        assert_ne!(id(low, 0, false), id(wide, 0, false));
        // A wide id that folds to 0 is pinned like an idle thread.
        let folds = 0x0001_0000_0000_0001;
        assert_eq!(id(folds, 2, false).0.get(), 3 << 48);
        assert_eq!(id(u64::MAX, u32::MAX, true).0.get() >> 63, 1);
    }

    #[test]
    fn huge_processor_numbers_saturate() {
        assert_eq!(
            id(0, u32::MAX, true).0.get(),
            (1 << 63) | (PROCESSOR_MASK << 48)
        );
    }
}
