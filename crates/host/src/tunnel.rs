//! The frame tunnel: ndcm as a host on an Ethernet segment carried one frame per UDP
//! datagram, compatible with QEMU's `-netdev dgram`, exchanging RoCEv2 QP1 frames (CM MADs)
//! with real RoCE stacks such as Linux `rdma_rxe`.
//!
//! Why whole frames: the RoCEv2 ICRC covers the IPv4 identification field, which a plain UDP
//! socket does not let the sender choose (spec/WIRE.md §12); building Ethernet, IPv4, UDP,
//! BTH, DETH, MAD and ICRC ourselves makes every frame right as sent, and lets received
//! frames be verified whole.
//!
//! - `ethernet`: MAC addresses and the Ethernet II header.
//! - `arp`: ARP packets and the neighbour cache (answering, resolving, retrying).
//! - `frame`: building QP1 frames with ndcm-wire and classifying received frames.
//! - `endpoint`: the socket, its receive thread, and the MAD-port API (`FrameTunnel`).
//! - `stats`: counters, one per drop reason.
//! - `tap`: an optional pcap capture of every frame.
//!
//! This module never interprets CM messages: that is ndcm-cm's job.

pub mod arp;
pub mod endpoint;
pub mod ethernet;
pub mod frame;
pub mod stats;
pub mod tap;

pub use endpoint::{FrameTunnel, ReceivedMad, SendError, TunnelConfig};
pub use ethernet::MacAddress;
pub use stats::{DropReason, TunnelStats};
pub use tap::FrameTap;
