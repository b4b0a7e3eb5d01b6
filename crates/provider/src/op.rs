//! [`Op`]: one asynchronous ND operation, overlapped style.
//!
//! An `Op` owns the outstanding request (the backend's token) until its
//! completion has been taken. It can be polled without blocking, waited on,
//! cancelled (ND's CancelOverlappedRequests works per object; this cancels
//! just this request), or awaited as a `Future`. It never decodes a
//! completion twice and never reports a result before the driver completed
//! the request.

use crate::device::{Completion, Device, Submitted};
use crate::error::{NdError, NdResult};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Turns a completion into the operation's result.
pub type Decode<T> = fn(Completion) -> NdResult<T>;

enum State<K> {
    Pending(K),
    Done(Completion),
    Taken,
}

/// An asynchronous ND operation whose result is `T`.
pub struct Op<D: Device, T> {
    device: Arc<D>,
    state: State<D::Token>,
    decode: Decode<T>,
}

impl<D: Device, T> Op<D, T> {
    /// Issues an IOCTL and wraps what the device answered.
    pub(crate) fn issue(
        device: &Arc<D>,
        code: u32,
        input: &[u8],
        output_len: usize,
        decode: Decode<T>,
    ) -> Self {
        let state = match device.ioctl(code, input, output_len) {
            Submitted::Complete(c) => State::Done(c),
            Submitted::Pending(t) => State::Pending(t),
        };
        Op {
            device: device.clone(),
            state,
            decode,
        }
    }

    /// An operation that failed before anything was sent.
    pub(crate) fn failed(device: &Arc<D>, error: NdError) -> Self {
        Op {
            device: device.clone(),
            state: State::Done(Completion::status(error.0)),
            decode: |c| Err(NdError(c.status)),
        }
    }

    /// Whether the driver has completed the request (the result has not
    /// been taken yet).
    pub fn is_complete(&mut self) -> bool {
        self.refresh(None);
        matches!(self.state, State::Done(_))
    }

    /// Whether the driver pended the request and it is still outstanding.
    pub fn is_pending(&mut self) -> bool {
        self.refresh(None);
        matches!(self.state, State::Pending(_))
    }

    /// The result, once; `None` while the request is outstanding or after
    /// the result was taken.
    pub fn poll_result(&mut self) -> Option<NdResult<T>> {
        self.refresh(None);
        self.take()
    }

    /// Blocks until the request completes and returns its result.
    pub fn wait(mut self) -> NdResult<T> {
        match core::mem::replace(&mut self.state, State::Taken) {
            State::Pending(t) => (self.decode)(self.device.wait(t)),
            State::Done(c) => (self.decode)(c),
            State::Taken => Err(NdError::MALFORMED_OUTPUT),
        }
    }

    /// Asks the driver to cancel this request. It still completes (with
    /// STATUS_CANCELLED unless its real result won the race).
    pub fn cancel(&self) {
        if let State::Pending(t) = &self.state {
            self.device.cancel(t);
        }
    }

    fn refresh(&mut self, waker: Option<&std::task::Waker>) {
        if let State::Pending(t) = &mut self.state
            && let Some(c) = self.device.poll(t, waker)
        {
            self.state = State::Done(c);
        }
    }

    fn take(&mut self) -> Option<NdResult<T>> {
        match core::mem::replace(&mut self.state, State::Taken) {
            State::Done(c) => Some((self.decode)(c)),
            other => {
                self.state = other;
                None
            }
        }
    }
}

impl<D: Device, T> Future for Op<D, T>
where
    D::Token: Unpin,
{
    type Output = NdResult<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<NdResult<T>> {
        let this = self.get_mut();
        this.refresh(Some(cx.waker()));
        match this.take() {
            Some(r) => Poll::Ready(r),
            // Polled again after Ready: the result was already taken.
            None if matches!(this.state, State::Taken) => {
                Poll::Ready(Err(NdError::MALFORMED_OUTPUT))
            }
            None => Poll::Pending,
        }
    }
}

impl<D: Device, T> core::fmt::Debug for Op<D, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = match &self.state {
            State::Pending(_) => "pending",
            State::Done(_) => "complete",
            State::Taken => "taken",
        };
        f.debug_struct("Op").field("state", &s).finish()
    }
}

/// Decodes a completion that carries no output.
pub(crate) fn no_output(c: Completion) -> NdResult<()> {
    NdError::check(c.status)
}

/// Issues a request and waits for it: the synchronous SPI calls (create,
/// free, reject, query), which the driver completes in its dispatch routine.
pub(crate) fn sync<D: Device, T>(
    device: &Arc<D>,
    code: u32,
    input: &[u8],
    output_len: usize,
    decode: Decode<T>,
) -> NdResult<T> {
    // No `Op`: nothing outlives this call, so it needs no device reference.
    decode(match device.ioctl(code, input, output_len) {
        Submitted::Complete(c) => c,
        Submitted::Pending(t) => device.wait(t),
    })
}
