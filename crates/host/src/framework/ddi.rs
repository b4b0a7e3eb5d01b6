//! The driver-side request DDIs: complete, mark/unmark cancelable, and the
//! buffer accessors, each checking its rules before acting.

use super::io::Completion;
use super::state::{Owner, Request};
use super::{FileId, Framework, RequestId, status};
use crate::irql::{in_cancel_callback_of, require_irql};
use crate::sys::{Irql, Sys};
use crate::verifier::Rule;
use std::sync::Arc;

/// Why the driver may not touch a request now.
fn access_violation<S: Sys>(id: RequestId, r: Option<&Request>) -> Option<String> {
    match r.map(|r| &r.owner) {
        None => Some(format!("{id:?} does not exist")),
        Some(Owner::Completed) => Some(format!("{id:?} used after completion")),
        Some(Owner::Queued(q)) => Some(format!("{id:?} used while in queue {q:?}")),
        Some(Owner::CanceledOnQueue(q)) => Some(format!(
            "{id:?} used while on the cancelled list of queue {q:?} (before its EvtIoCanceledOnQueue)"
        )),
        Some(Owner::CancelRoutine) if !in_cancel_callback_of::<S>(id.0) => Some(format!(
            "{id:?} used outside its cancel routine after cancellation"
        )),
        Some(_) => None,
    }
}

impl<S: Sys> Framework<S> {
    /// Runs `f` on a request the driver may touch; otherwise reports
    /// InvalidReqAccess and returns `None`.
    #[track_caller]
    fn with_request<R>(
        &self,
        id: RequestId,
        ddi: &str,
        f: impl FnOnce(&mut Request) -> R,
    ) -> Option<R> {
        require_irql::<S>(&self.verifier, ddi, Irql::DISPATCH);
        let result = self.inner.with(|i| {
            let r = i.requests.get_mut(&id);
            match access_violation::<S>(id, r.as_deref()) {
                Some(why) => Err(why),
                None => Ok(r.map(f)),
            }
        });
        match result {
            Ok(v) => v,
            Err(why) => {
                self.verifier
                    .report(Rule::InvalidReqAccess, format!("{ddi}: {why}"));
                None
            }
        }
    }

    /// WdfRequestCompleteWithInformation. `information` bytes of the output
    /// buffer go back to user mode; the buffers are then gone (poisoned).
    #[track_caller]
    pub fn complete(&self, id: RequestId, status: u32, information: usize) {
        require_irql::<S>(
            &self.verifier,
            "WdfRequestCompleteWithInformation",
            Irql::DISPATCH,
        );
        let in_cancel = in_cancel_callback_of::<S>(id.0);
        let problem = self.inner.with(|i| {
            let Some(r) = i.requests.get_mut(&id) else {
                return Some((Rule::InvalidReqAccess, format!("{id:?} does not exist")));
            };
            r.completions += 1;
            let problem = match r.owner {
                Owner::Completed => {
                    return Some((
                        Rule::DoubleCompletion,
                        format!("{id:?} completed again (status {status:#x})"),
                    ));
                }
                Owner::Queued(q) | Owner::CanceledOnQueue(q) => {
                    return Some((
                        Rule::InvalidReqAccess,
                        format!("{id:?} completed while framework-owned by queue {q:?}"),
                    ));
                }
                Owner::Cancelable(_) if !in_cancel => Some((
                    Rule::ReqNotCanceledLocal,
                    format!("{id:?} completed while cancelable, without unmarking"),
                )),
                Owner::CancelRoutine if !in_cancel => Some((
                    Rule::CompleteCanceledReq,
                    format!("{id:?} completed outside its cancel routine after cancellation"),
                )),
                _ => None,
            };
            let problem = problem.or_else(|| {
                (information > r.output.len()).then(|| {
                    (
                        Rule::InformationOverrun,
                        format!(
                            "{id:?} information {information} > output length {}",
                            r.output.len()
                        ),
                    )
                })
            });
            let mut output = std::mem::take(&mut r.output);
            output.truncate(information);
            r.input = Vec::new();
            r.owner = Owner::Completed;
            r.handed_off = true;
            r.completion = Some(Completion {
                status,
                information: information.min(output.len()),
                output,
            });
            problem
        });
        if let Some((rule, detail)) = problem {
            self.verifier.report(rule, detail);
        }
    }

    /// WdfRequestMarkCancelableEx (`FxIoQueue::RequestCancelable` with
    /// `Cancelable` and `FailIfIrpIsCancelled` TRUE). If user mode has
    /// already cancelled the request, the insertion into the driver-cancelable
    /// queue fails: it returns STATUS_CANCELLED without marking and WITHOUT
    /// calling the cancel routine; the driver must complete the request. (The
    /// older WdfRequestMarkCancelable, `FailIfIrpIsCancelled` FALSE, would
    /// call the routine instead; it is not modelled.) Marking an already
    /// cancelable request is MarkCancOnCancReqLocal
    /// (`VerifyRequestIsNotCancelable`).
    #[track_caller]
    pub fn mark_cancelable(
        &self,
        id: RequestId,
        routine: Arc<dyn Fn(RequestId) + Send + Sync>,
    ) -> Result<(), u32> {
        let outcome = self.with_request(id, "WdfRequestMarkCancelableEx", |r| match r.owner {
            Owner::Cancelable(_) => Err(Some(Rule::MarkCancOnCancReqLocal)),
            _ if r.cancel_requested => Err(None),
            _ => {
                r.owner = Owner::Cancelable(routine);
                r.was_cancelable = true;
                r.handed_off = true;
                Ok(())
            }
        });
        match outcome {
            Some(Ok(())) => Ok(()),
            Some(Err(Some(rule))) => {
                self.verifier
                    .report(rule, format!("{id:?} marked cancelable twice"));
                Err(status::INVALID_DEVICE_REQUEST)
            }
            Some(Err(None)) => Err(status::CANCELLED),
            None => Err(status::INVALID_DEVICE_REQUEST),
        }
    }

    /// WdfRequestUnmarkCancelable (`FxIoQueue::RequestCancelable` with
    /// `Cancelable` FALSE): removing the request from the driver-cancelable
    /// queue fails once the IRP's cancel has taken it (`RemoveFromIrpQueue`
    /// returns STATUS_CANCELLED: "the cancel routine has won the race and will
    /// be invoked on another thread"). So CANCELLED means the cancel routine
    /// has run, is running or will run and owns the request: the caller must
    /// not complete it (CompleteCanceledReq). The decision is made under the
    /// same lock as the cancel's, so there is no window where both sides
    /// believe they own it.
    #[track_caller]
    pub fn unmark_cancelable(&self, id: RequestId) -> Result<(), u32> {
        require_irql::<S>(&self.verifier, "WdfRequestUnmarkCancelable", Irql::DISPATCH);
        let outcome = self.inner.with(|i| {
            let Some(r) = i.requests.get_mut(&id) else {
                return Err(Some(format!("{id:?} does not exist")));
            };
            match r.owner {
                Owner::Cancelable(_) => {
                    r.owner = Owner::Driver;
                    Ok(())
                }
                Owner::CancelRoutine => Err(None),
                // Allowed after completion only when it had been cancelable
                // (the cancel routine completed it).
                Owner::Completed if r.was_cancelable => Err(None),
                Owner::Driver => Err(Some(format!("{id:?} was not cancelable"))),
                _ => Err(Some(format!(
                    "{id:?} unmarked after completion or while queued"
                ))),
            }
        });
        match outcome {
            Ok(()) => Ok(()),
            Err(None) => Err(status::CANCELLED),
            Err(Some(why)) => {
                self.verifier.report(Rule::InvalidReqAccess, why);
                Err(status::INVALID_DEVICE_REQUEST)
            }
        }
    }

    /// The input buffer (WdfRequestRetrieveInputBuffer), copied.
    #[track_caller]
    pub fn input(&self, id: RequestId) -> Vec<u8> {
        self.with_request(id, "WdfRequestRetrieveInputBuffer", |r| r.input.clone())
            .unwrap_or_default()
    }

    /// Runs `f` on the output buffer (WdfRequestRetrieveOutputBuffer).
    #[track_caller]
    pub fn with_output<R>(&self, id: RequestId, f: impl FnOnce(&mut [u8]) -> R) -> Option<R> {
        self.with_request(id, "WdfRequestRetrieveOutputBuffer", |r| f(&mut r.output))
    }

    /// The output buffer's length.
    #[track_caller]
    pub fn output_len(&self, id: RequestId) -> usize {
        self.with_request(id, "WdfRequestGetParameters", |r| r.output.len())
            .unwrap_or(0)
    }

    /// The IOCTL code (WdfRequestGetParameters).
    #[track_caller]
    pub fn code(&self, id: RequestId) -> u32 {
        self.with_request(id, "WdfRequestGetParameters", |r| r.code)
            .unwrap_or(0)
    }

    /// The context stored with the request when it was last forwarded
    /// (WdfObjectGetTypedContext on the request).
    #[track_caller]
    pub fn context(&self, id: RequestId) -> [u64; 2] {
        self.with_request(id, "WdfObjectGetTypedContext", |r| r.context)
            .unwrap_or([0; 2])
    }

    /// The file object the request was sent on (WdfRequestGetFileObject).
    #[track_caller]
    pub fn file_of(&self, id: RequestId) -> Option<FileId> {
        self.with_request(id, "WdfRequestGetFileObject", |r| r.file)
    }
}
