//! CPU time, for the "CPU time per connection" figures: of the calling
//! thread (the simulator is single-threaded) and of the whole process (the
//! two-process commands, whose agent, timer and dialer are threads).
//! Unix: `clock_gettime` (CLOCK_THREAD_CPUTIME_ID, CLOCK_PROCESS_CPUTIME_ID);
//! Windows: `GetThreadTimes` / `GetProcessTimes` (kernel + user time).

/// CPU time consumed by this thread so far, in nanoseconds; `None` where the
/// platform does not say.
pub fn thread_cpu_nanos() -> Option<u64> {
    #[cfg(unix)]
    {
        clock_nanos(libc::CLOCK_THREAD_CPUTIME_ID)
    }
    #[cfg(windows)]
    {
        windows::thread()
    }
    #[cfg(not(any(unix, windows)))]
    {
        None
    }
}

/// CPU time consumed by the whole process so far, in nanoseconds.
pub fn process_cpu_nanos() -> Option<u64> {
    #[cfg(unix)]
    {
        clock_nanos(libc::CLOCK_PROCESS_CPUTIME_ID)
    }
    #[cfg(windows)]
    {
        windows::process()
    }
    #[cfg(not(any(unix, windows)))]
    {
        None
    }
}

/// The process's CPU time for a closing report: "1.234 s", or "n/a".
pub fn describe_process() -> String {
    process_cpu_nanos().map_or_else(
        || "n/a".to_owned(),
        |ns| format!("{:.3} s", ns as f64 / 1e9),
    )
}

#[cfg(unix)]
fn clock_nanos(clock: libc::clockid_t) -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant
    // the C library defines.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return None;
    }
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u64::try_from(ts.tv_nsec).ok()?;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

#[cfg(windows)]
mod windows {
    use windows_sys::Win32::Foundation::{FILETIME, HANDLE};
    use windows_sys::Win32::System::Threading::{
        GetCurrentProcess, GetCurrentThread, GetProcessTimes, GetThreadTimes,
    };
    use windows_sys::core::BOOL;

    const ZERO: FILETIME = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };

    /// Kernel + user time, FILETIME units of 100 ns, in nanoseconds.
    fn nanos(kernel: FILETIME, user: FILETIME) -> Option<u64> {
        let ticks = |t: FILETIME| (u64::from(t.dwHighDateTime) << 32) | u64::from(t.dwLowDateTime);
        ticks(kernel).checked_add(ticks(user))?.checked_mul(100)
    }

    pub fn thread() -> Option<u64> {
        // SAFETY: the pseudo-handle of the current thread is always valid.
        times(unsafe { GetCurrentThread() }, GetThreadTimes)
    }

    pub fn process() -> Option<u64> {
        // SAFETY: the pseudo-handle of the current process is always valid.
        times(unsafe { GetCurrentProcess() }, GetProcessTimes)
    }

    /// `GetThreadTimes` and `GetProcessTimes` share this signature.
    type Times = unsafe extern "system" fn(
        HANDLE,
        *mut FILETIME,
        *mut FILETIME,
        *mut FILETIME,
        *mut FILETIME,
    ) -> BOOL;

    fn times(handle: HANDLE, get: Times) -> Option<u64> {
        let (mut created, mut exited, mut kernel, mut user) = (ZERO, ZERO, ZERO, ZERO);
        // SAFETY: `handle` is a pseudo-handle `get` accepts; the four
        // out-pointers are distinct, writable locals.
        let ok = unsafe { get(handle, &mut created, &mut exited, &mut kernel, &mut user) };
        if ok == 0 { None } else { nanos(kernel, user) }
    }
}

#[cfg(test)]
mod tests {
    fn work() {
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
    }

    #[test]
    fn thread_and_process_cpu_time_advance_with_work() {
        let (t, p) = (super::thread_cpu_nanos(), super::process_cpu_nanos());
        let (t, p) = (t.expect("thread CPU time"), p.expect("process CPU time"));
        work();
        assert!(super::thread_cpu_nanos().expect("thread") > t);
        assert!(super::process_cpu_nanos().expect("process") > p);
    }
}
