//! End to end with real threads: overlapped requests issued on client and
//! server threads complete later on the thread that pumps the fabric and
//! the CM timers, as DeviceIoControl completions do; instances are closed
//! while CM events are being delivered to them. The strict verifier turns
//! any KMDF rule broken on any thread into a failure, and the audit at the
//! end checks that every request completed once and nothing leaked.

mod e2e_common;

use e2e_common::*;
use ndcm_cm::platform::Duration;
use ndcm_host::device::{Io, Pending};
use ndcm_ndi::NtStatus;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

const WAIT: std::time::Duration = std::time::Duration::from_secs(60);
const CLIENTS: usize = 4;

/// Pumps the world on its own thread: virtual time runs no faster than
/// real time, so CM timeouts keep their meaning for the other threads even
/// when a loaded machine starves them.
struct Pump {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Pump {
    fn start(net: &Arc<Net>) -> Pump {
        let stop = Arc::new(AtomicBool::new(false));
        let (n, s) = (Arc::clone(net), Arc::clone(&stop));
        let thread = thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                n.world.advance(Duration::from_micros(50));
                thread::sleep(std::time::Duration::from_micros(50));
            }
        });
        Pump {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("pump thread (a rule violation panics it)");
        }
    }
}

#[track_caller]
fn wait(c: &Cl, io: Io) -> NtStatus {
    match io {
        Io::Complete(done) => NtStatus(done.status),
        Io::Pending(p) => NtStatus(c.device().wait(p, WAIT).expect("completed in time").status),
    }
}

#[test]
fn overlapped_requests_complete_from_the_pump_thread() {
    let net = Arc::new(Net::new());
    let pump = Pump::start(&net);
    // Listen before any client connects (a REQ for a service nobody
    // listens on is rejected).
    let s = net.server();
    let a = s.adapter();
    let (listener, _) = s.listen(a, 8000);
    let server = {
        thread::spawn(move || {
            for _ in 0..CLIENTS {
                let conn = s.connection(a);
                let qp = s.qp(a);
                assert_eq!(wait(&s, s.get_request(listener, conn)), NtStatus::SUCCESS);
                assert_eq!(wait(&s, s.accept(conn, qp, b"ok")), NtStatus::SUCCESS);
                assert_eq!(wait(&s, s.notify_disconnect(conn)), NtStatus::SUCCESS);
                assert_eq!(wait(&s, s.disconnect(conn)), NtStatus::SUCCESS);
            }
            s.close();
        })
    };
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let net = Arc::clone(&net);
            thread::spawn(move || {
                let c = net.client();
                let a = c.adapter();
                let conn = c.connection(a);
                let qp = c.qp(a);
                let st = wait(&c, c.connect(conn, qp, CLIENT_IP, SERVER_IP, 8000, b"hi"));
                assert_eq!(st, NtStatus::SUCCESS);
                assert_eq!(wait(&c, c.complete_connect(conn)), NtStatus::SUCCESS);
                assert_eq!(wait(&c, c.disconnect(conn)), NtStatus::SUCCESS);
                c.close();
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client thread");
    }
    server.join().expect("server thread");
    pump.stop();
    net.finish();
}

#[test]
fn instances_closed_while_cm_events_are_delivered_to_them() {
    // Clients connect and close their instance at once, while the pump
    // thread delivers the REP/REJ to them and the server accepts and closes
    // on its own thread: every interleaving of close and event delivery
    // must complete each request once and free everything.
    let net = Arc::new(Net::new());
    let pump = Pump::start(&net);
    let server = {
        let net = Arc::clone(&net);
        thread::spawn(move || {
            for round in 0..CLIENTS {
                let s = net.server();
                let a = s.adapter();
                let (listener, _) = s.listen(a, 9000);
                let conn = s.connection(a);
                let qp = s.qp(a);
                let get = s.get_request(listener, conn);
                if let Io::Pending(p) = get {
                    let _ = s
                        .device()
                        .wait(p, std::time::Duration::from_millis(5 * round as u64));
                }
                let _ = s.accept(conn, qp, &[]);
                s.close();
            }
        })
    };
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let net = Arc::clone(&net);
            thread::spawn(move || {
                let c = net.client();
                let a = c.adapter();
                let conn = c.connection(a);
                let qp = c.qp(a);
                let p: Option<Pending> = c
                    .connect(conn, qp, CLIENT_IP, SERVER_IP, 9000, &[])
                    .pending();
                thread::sleep(std::time::Duration::from_millis(i as u64));
                let device = Arc::clone(c.device());
                c.close();
                if let Some(p) = p {
                    assert!(device.poll(p).is_some(), "close completed the connect");
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client thread");
    }
    server.join().expect("server thread");
    pump.stop();
    net.finish();
}
