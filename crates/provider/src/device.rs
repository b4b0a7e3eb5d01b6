//! The one channel to the driver: an open file of the device, on which
//! IOCTLs are issued METHOD_BUFFERED, overlapped.
//!
//! A backend owns the I/O mechanics (the OVERLAPPED and the buffers on
//! Windows, the request objects on the host); it never interprets the
//! bytes. Everything about the ABI lives above it in this crate.

use ndcm_ndi::abi::NtStatus;
use std::task::Waker;

/// How a request finished: its status and the output bytes (as many as the
/// completion's Information said were written).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The completion status.
    pub status: NtStatus,
    /// The first `Information` bytes of the output buffer.
    pub output: Vec<u8>,
}

impl Completion {
    /// A completion with no output.
    pub fn status(status: NtStatus) -> Completion {
        Completion {
            status,
            output: Vec::new(),
        }
    }
}

/// What issuing an IOCTL gave.
#[derive(Debug)]
pub enum Submitted<T> {
    /// The driver completed it before the call returned.
    Complete(Completion),
    /// The driver pended it (STATUS_PENDING); `T` names it for poll, wait
    /// and cancel.
    Pending(T),
}

/// An open file of the ndcm device (one provider instance).
///
/// All methods take `&self`: an ND provider issues requests concurrently on
/// one handle.
pub trait Device {
    /// An outstanding request. Dropping it must not leave the driver
    /// writing into freed memory (the Windows backend cancels and waits).
    type Token;

    /// Issues `code` with `input` and an output buffer of `output_len`
    /// bytes. A failure to issue at all (closed handle) is a completion
    /// with that status.
    fn ioctl(&self, code: u32, input: &[u8], output_len: usize) -> Submitted<Self::Token>;

    /// The completion of `token` if it has finished; otherwise registers
    /// `waker` (when given) to be woken once it does.
    fn poll(&self, token: &mut Self::Token, waker: Option<&Waker>) -> Option<Completion>;

    /// Blocks until `token` completes.
    fn wait(&self, token: Self::Token) -> Completion;

    /// Asks the driver to cancel `token` (CancelIoEx). It still completes,
    /// usually with STATUS_CANCELLED, possibly with its real result.
    fn cancel(&self, token: &Self::Token);

    /// Closes the file (CloseHandle): the driver tears down every object of
    /// this instance and completes its pending requests with
    /// STATUS_CANCELLED. Later IOCTLs complete with an error.
    fn close(&self);
}
