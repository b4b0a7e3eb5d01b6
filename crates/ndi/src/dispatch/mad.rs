//! The MAD agent IOCTLs (umad-like): a MAD agent in user mode or another
//! driver pends MAD_GET_OUTBOUND requests that the CM's sends complete, and
//! hands received MADs in with MAD_SUBMIT_INBOUND. A MAD sent while no
//! agent request is pending is dropped, like a lost packet: the CM retries.

use super::input::{self, Output};
use super::{Done, Ndi, Out, Reply, Work};
use crate::NdiError;
use crate::abi::*;
use crate::cm_port::CmPort;
use crate::object::FileState;
use crate::requests::{PendInfo, PendKind, QueueOwner, Requests};
use alloc::vec::Vec;
use ndcm_cm::platform::{Platform, QueuedSpinLock};

impl<P: Platform, C: CmPort, R: Requests> Ndi<P, C, R> {
    pub(super) fn mad_get(
        &self,
        file: u64,
        st: &mut FileState<R>,
        input: &[u8],
        output_len: usize,
        slot: &mut Option<R::Request>,
        _work: &mut Work<C, R>,
    ) -> Result<Reply, NdiError> {
        let _: NdcmHeader = input::fixed(input)?;
        input::output(output_len, Output::Exact(NdcmMadEnvelope::SIZE))?;
        if st.mad_queue.is_none() {
            let q = self
                .requests
                .create_queue(QueueOwner {
                    instance: file,
                    object: 0,
                })
                .map_err(|_| NdiError::NoResources)?;
            st.mad_queue = Some(q);
        }
        let queue = st.mad_queue.as_ref().ok_or(NdiError::NoResources)?;
        let info = PendInfo {
            kind: PendKind::MadOutbound,
            tag: 0,
        };
        match self.pend(queue, slot, info) {
            Ok(()) => {
                st.mad_outstanding += 1;
                Ok(Reply::Pended)
            }
            Err(status) => Ok(Reply::Done(status, Out::Empty)),
        }
    }

    pub(super) fn mad_submit(
        &self,
        input: &[u8],
        output_len: usize,
        work: &mut Work<C, R>,
    ) -> Result<Reply, NdiError> {
        let i: NdcmMadSubmitIn = input::fixed(input)?;
        input::reserved(&[
            u64::from(i.address.reserved0),
            u64::from(i.address.reserved1),
        ])?;
        input::output(output_len, Output::None)?;
        if i.address.port == 0 {
            return Err(NdiError::InvalidParameter);
        }
        self.cm.submit_mad(&i.address, &i.mad, &mut work.fx)?;
        Ok(Reply::ok())
    }

    /// The CM wants `envelope` sent: completes the oldest MAD_GET_OUTBOUND
    /// of any agent with it. False if no agent request was pending (the MAD
    /// is dropped; the CM's retries cover it).
    pub fn deliver_outbound_mad(&self, envelope: &NdcmMadEnvelope) -> bool {
        let files: Vec<_> = self.files.with(|f| f.values().cloned().collect());
        for file in files {
            let taken = self.locked(&file, |st| {
                let q = st.mad_queue.as_ref()?;
                let (request, _) = self.requests.retrieve(q, PendKind::MadOutbound)?;
                st.mad_outstanding = st.mad_outstanding.saturating_sub(1);
                Some(request)
            });
            if let Some(request) = taken {
                let mut work: Work<C, R> = Work::new();
                work.push(Done {
                    request,
                    status: NtStatus::SUCCESS,
                    output: envelope.to_bytes().to_vec(),
                });
                self.run(work);
                return true;
            }
        }
        false
    }
}
