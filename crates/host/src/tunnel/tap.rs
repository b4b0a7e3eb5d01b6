//! A capture tap: every frame the tunnel sends or receives, in a pcap file (link type
//! Ethernet) that Wireshark and tshark read.
//!
//! Owns the file and the record format only; it never filters or alters a frame. A write
//! error stops the capture (reported once) and never disturbs the tunnel.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// pcap link type of Ethernet frames.
const LINKTYPE_ETHERNET: u32 = 1;

/// Records frames to a pcap file.
pub struct FrameTap {
    out: Option<BufWriter<File>>,
    frames: u64,
}

impl FrameTap {
    /// Creates (truncates) `path` and writes the pcap global header.
    pub fn create(path: &Path) -> io::Result<FrameTap> {
        let mut out = BufWriter::new(File::create(path)?);
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes()); // microsecond timestamps
        header.extend_from_slice(&2u16.to_le_bytes());
        header.extend_from_slice(&4u16.to_le_bytes());
        header.extend_from_slice(&0i32.to_le_bytes()); // GMT offset
        header.extend_from_slice(&0u32.to_le_bytes()); // accuracy
        header.extend_from_slice(&65535u32.to_le_bytes()); // snap length
        header.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&header)?;
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
        let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let mut rec = Vec::with_capacity(16 + frame.len());
        rec.extend_from_slice(&(now.as_secs() as u32).to_le_bytes());
        rec.extend_from_slice(&now.subsec_micros().to_le_bytes());
        rec.extend_from_slice(&len.to_le_bytes());
        rec.extend_from_slice(&len.to_le_bytes());
        rec.extend_from_slice(frame);
        if let Err(e) = out.write_all(&rec) {
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

    #[test]
    fn records_follow_the_pcap_layout() {
        let dir = std::env::temp_dir().join(format!("ndcm-tap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.pcap");
        let mut tap = FrameTap::create(&path).unwrap();
        tap.record(&[0xAA; 60]);
        tap.record(&[0xBB; 322]);
        tap.flush().unwrap();
        assert_eq!(tap.frames(), 2);
        let b = std::fs::read(&path).unwrap();
        assert_eq!(&b[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(u32::from_le_bytes(b[20..24].try_into().unwrap()), 1);
        assert_eq!(
            u32::from_le_bytes(b[24 + 8..24 + 12].try_into().unwrap()),
            60
        );
        let second = 24 + 16 + 60;
        assert_eq!(
            u32::from_le_bytes(b[second + 8..second + 12].try_into().unwrap()),
            322
        );
        assert_eq!(b.len(), second + 16 + 322);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
