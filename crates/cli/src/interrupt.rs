//! Ctrl-C for the long-running commands (`agent`, `listen`, `connect`): the
//! first Ctrl-C asks the command to stop at its next turn, report and exit;
//! the command's own loop polls [`interrupted`]. On Unix this is SIGINT, on
//! Windows the console control handler (CTRL_C_EVENT, CTRL_BREAK_EVENT,
//! CTRL_CLOSE_EVENT), both through the `ctrlc` crate.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();

/// Installs the handler (once per process; later calls do nothing). A
/// process that never calls this keeps Ctrl-C's default: it ends at once.
pub fn catch() {
    INSTALL.call_once(|| {
        if let Err(e) = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::Release)) {
            eprintln!("ndcm: Ctrl-C handler: {e} (Ctrl-C ends the process at once)");
        }
    });
}

/// True once Ctrl-C was pressed after [`catch`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Acquire)
}
