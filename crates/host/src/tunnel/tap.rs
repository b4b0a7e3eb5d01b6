//! A capture tap: every frame the tunnel sends or receives, written with ndcm-wire's pcap
//! writer (link type Ethernet) for Wireshark and tshark.
//!
//! Owns the capture file only; it never filters or alters a frame. A write error stops the
//! capture (reported once) and never disturbs the tunnel.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use ndcm_wire::pcap::{LinkType, PcapWriter};

/// Records frames to a pcap file.
pub struct FrameTap {
    out: Option<PcapWriter<BufWriter<File>>>,
    frames: u64,
}

impl FrameTap {
    /// Creates (truncates) `path` and writes the pcap global header.
    pub fn create(path: &Path) -> io::Result<FrameTap> {
        let out = PcapWriter::new(BufWriter::new(File::create(path)?), LinkType::Ethernet)?;
        Ok(FrameTap {
            out: Some(out),
            frames: 0,
        })
    }

    /// Appends one frame with the current time.
    pub fn record(&mut self, frame: &[u8]) {
        let Some(out) = self.out.as_mut() else {
            return;
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        // Flushed per frame, so a reader never sees half a record while the tunnel runs.
        if let Err(e) = out.write_record(now, frame).and_then(|()| out.flush()) {
            eprintln!("tunnel capture stopped: {e}");
            self.out = None;
        } else {
            self.frames += 1;
        }
    }

    /// Frames recorded so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    pub fn flush(&mut self) -> io::Result<()> {
        match self.out.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndcm_wire::pcap::PcapReader;

    #[test]
    fn recorded_frames_read_back_in_order() {
        let dir = std::env::temp_dir().join(format!("ndcm-tap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.pcap");
        let mut tap = FrameTap::create(&path).unwrap();
        tap.record(&[0xAA; 60]);
        tap.record(&[0xBB; 322]);
        tap.flush().unwrap();
        assert_eq!(tap.frames(), 2);
        let mut r = PcapReader::new(File::open(&path).unwrap()).unwrap();
        assert_eq!(r.link_type(), LinkType::Ethernet);
        let a = r.next_record().unwrap().unwrap();
        let b = r.next_record().unwrap().unwrap();
        assert!(r.next_record().unwrap().is_none());
        assert_eq!((a.data.len(), a.data[0]), (60, 0xAA));
        assert_eq!((b.data.len(), b.data[0]), (322, 0xBB));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
