//! The Windows backend: the driver's control device opened for overlapped
//! I/O, requests issued with `NtDeviceIoControlFile`.
//!
//! Why the native call and not `DeviceIoControl`: ND status values are the
//! NTSTATUS the driver completed with, and a request the driver fails in
//! its dispatch routine without pending it never reaches the caller's
//! IO_STATUS_BLOCK (the I/O manager skips the copy for a synchronous
//! NT_ERROR completion), so `DeviceIoControl` would leave only the lossy
//! Win32 error. `NtDeviceIoControlFile` returns the NTSTATUS itself; for a
//! pended request the final status and Information land in the
//! IO_STATUS_BLOCK and the event is signalled.
//!
//! This module owns the lifetime rule of overlapped I/O: the status block
//! and the output buffer of a request stay at a fixed address (boxed) until
//! the request has completed; dropping an unfinished [`Token`] cancels the
//! request and waits for it. It never interprets the bytes.
//!
//! NOT COMPILED OR TESTED on the Linux CI (there is no Windows target
//! here); written against windows-sys 0.61's signatures.

use crate::device::{Completion, Device, Submitted};
use ndcm_ndi::abi::NtStatus;
use std::sync::Mutex;
use std::task::Waker;
use windows_sys::Wdk::System::IO::NtDeviceIoControlFile;
use windows_sys::Win32::Foundation::{
    CloseHandle, GENERIC_READ, GENERIC_WRITE, HANDLE, INVALID_HANDLE_VALUE, WAIT_OBJECT_0,
};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_FLAG_OVERLAPPED, FILE_SHARE_READ, FILE_SHARE_WRITE, OPEN_EXISTING,
};
use windows_sys::Win32::System::IO::{CancelIoEx, IO_STATUS_BLOCK, OVERLAPPED};
use windows_sys::Win32::System::Threading::{CreateEventW, INFINITE, WaitForSingleObject};

/// The driver's control device (its symbolic link in `\DosDevices`).
pub const DEVICE_PATH: &str = r"\\.\ndcm";

/// An open file of the ndcm control device.
pub struct WindowsDevice {
    /// The file handle; `None` once closed.
    handle: Mutex<Option<usize>>,
}

// SAFETY (for both impls): a file HANDLE is a process-wide kernel handle
// usable from any thread; it is stored as an integer and only used through
// thread-safe Win32 calls.
unsafe impl Send for WindowsDevice {}
// SAFETY: see above.
unsafe impl Sync for WindowsDevice {}

/// One outstanding request. Boxed so that the status block and the output
/// buffer the I/O manager writes into never move.
pub struct Token(Box<Pending>);

struct Pending {
    iosb: IO_STATUS_BLOCK,
    event: HANDLE,
    file: HANDLE,
    output: Vec<u8>,
    finished: bool,
}

// SAFETY: the event and file handles are process-wide; the buffers are owned.
unsafe impl Send for Token {}

impl WindowsDevice {
    /// Opens [`DEVICE_PATH`].
    pub fn open() -> std::io::Result<WindowsDevice> {
        Self::open_path(DEVICE_PATH)
    }

    /// Opens the control device at `path` for overlapped I/O.
    pub fn open_path(path: &str) -> std::io::Result<WindowsDevice> {
        let wide: Vec<u16> = path.encode_utf16().chain(Some(0)).collect();
        // SAFETY: `wide` is a NUL-terminated UTF-16 string that outlives the
        // call; the other arguments are plain flags and null pointers.
        let h = unsafe {
            CreateFileW(
                wide.as_ptr(),
                GENERIC_READ | GENERIC_WRITE,
                FILE_SHARE_READ | FILE_SHARE_WRITE,
                core::ptr::null(),
                OPEN_EXISTING,
                FILE_FLAG_OVERLAPPED,
                core::ptr::null_mut(),
            )
        };
        if h == INVALID_HANDLE_VALUE || h.is_null() {
            return Err(std::io::Error::last_os_error());
        }
        Ok(WindowsDevice {
            handle: Mutex::new(Some(h as usize)),
        })
    }

    fn file(&self) -> Option<HANDLE> {
        self.handle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map(|h| h as HANDLE)
    }
}

impl Pending {
    fn completion(&self) -> Completion {
        // SAFETY: the request has completed (its event was signalled), so the
        // I/O manager has written the union's Status member.
        let status = unsafe { self.iosb.Anonymous.Status };
        let n = self.iosb.Information.min(self.output.len());
        Completion {
            status: NtStatus(status as u32),
            output: self.output[..n].to_vec(),
        }
    }

    /// Waits for the event with `ms`; true when the request has completed.
    fn wait_ms(&mut self, ms: u32) -> bool {
        if self.finished {
            return true;
        }
        // SAFETY: `event` is a live event handle owned by this request.
        if unsafe { WaitForSingleObject(self.event, ms) } == WAIT_OBJECT_0 {
            self.finished = true;
        }
        self.finished
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.finished {
            // The I/O manager still owns `iosb` and `output`: cancel, then
            // wait, so it is done with them before they are freed. A
            // request the driver does not cancel still completes promptly
            // (spec/NDI.md §6: only RTU/REP-in-transition are not
            // cancellable, and they finish on their own).
            // SAFETY: CancelIoEx matches the IRP whose user status block
            // is this address; OVERLAPPED begins with the same
            // Internal/InternalHigh pair as IO_STATUS_BLOCK, which is why
            // the cast is what CancelIoEx expects. A stale file handle only
            // makes the call fail.
            unsafe {
                let _ = CancelIoEx(
                    self.file,
                    (&self.iosb as *const IO_STATUS_BLOCK).cast::<OVERLAPPED>(),
                );
            }
            let _ = self.wait_ms(INFINITE);
        }
        // SAFETY: the event handle is owned by this request and no longer
        // referenced by the I/O manager.
        unsafe {
            let _ = CloseHandle(self.event);
        }
    }
}

impl Device for WindowsDevice {
    type Token = Token;

    fn ioctl(&self, code: u32, input: &[u8], output_len: usize) -> Submitted<Token> {
        let Some(file) = self.file() else {
            return Submitted::Complete(Completion::status(NtStatus::INVALID_HANDLE));
        };
        let (Ok(in_len), Ok(out_len)) = (u32::try_from(input.len()), u32::try_from(output_len))
        else {
            return Submitted::Complete(Completion::status(NtStatus::INVALID_PARAMETER));
        };
        // SAFETY: a manual-reset, initially clear, unnamed event.
        let event = unsafe { CreateEventW(core::ptr::null(), 1, 0, core::ptr::null()) };
        if event.is_null() {
            return Submitted::Complete(Completion::status(NtStatus::INSUFFICIENT_RESOURCES));
        }
        let mut p = Box::new(Pending {
            iosb: IO_STATUS_BLOCK::default(),
            event,
            file,
            output: vec![0u8; output_len],
            finished: false,
        });
        let out_ptr = if output_len == 0 {
            core::ptr::null_mut()
        } else {
            p.output.as_mut_ptr().cast()
        };
        let in_ptr = if input.is_empty() {
            core::ptr::null()
        } else {
            input.as_ptr().cast()
        };
        // SAFETY: `file` is open; `event` is ours; `iosb` and `output` are
        // boxed and live until the request completes (Pending's Drop waits);
        // METHOD_BUFFERED copies `input` before the call returns, so its
        // borrow suffices.
        let status = unsafe {
            NtDeviceIoControlFile(
                file,
                event,
                None,
                core::ptr::null(),
                &mut p.iosb,
                code,
                in_ptr,
                in_len,
                out_ptr,
                out_len,
            )
        };
        let status = NtStatus(status as u32);
        if status == NtStatus::PENDING {
            return Submitted::Pending(Token(p));
        }
        // Completed in the dispatch routine. A success wrote the status
        // block (and signalled the event); an error may not have.
        p.finished = true;
        if status.is_success() || status == NtStatus::BUFFER_OVERFLOW {
            let mut c = p.completion();
            c.status = status;
            Submitted::Complete(c)
        } else {
            Submitted::Complete(Completion::status(status))
        }
    }

    fn poll(&self, token: &mut Token, waker: Option<&Waker>) -> Option<Completion> {
        if token.0.wait_ms(0) {
            return Some(token.0.completion());
        }
        // No completion port is attached, so nothing can wake the task
        // later: ask to be polled again (a busy poll; an application that
        // cares uses `wait` or its own IOCP).
        if let Some(w) = waker {
            w.wake_by_ref();
        }
        None
    }

    fn wait(&self, mut token: Token) -> Completion {
        let _ = token.0.wait_ms(INFINITE);
        token.0.completion()
    }

    fn cancel(&self, token: &Token) {
        if token.0.finished {
            return;
        }
        // SAFETY: see Pending::drop — the status block's address names the
        // request; a completed or unknown request makes the call fail.
        unsafe {
            let _ = CancelIoEx(
                token.0.file,
                (&token.0.iosb as *const IO_STATUS_BLOCK).cast::<OVERLAPPED>(),
            );
        }
    }

    fn close(&self) {
        let h = self.handle.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = h {
            // SAFETY: the handle was opened by us and is closed once (taken
            // out of the mutex).
            unsafe {
                let _ = CloseHandle(h as HANDLE);
            }
        }
    }
}

impl Drop for WindowsDevice {
    fn drop(&mut self) {
        self.close();
    }
}
