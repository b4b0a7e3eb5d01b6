//! `ndcm decode FILE.pcap [--json]`: every CM MAD of a capture, all twelve
//! attributes, in a readable form or as one JSON object per line.
//!
//! A malformed frame is reported with its number and reason and decoding
//! goes on; only an unreadable file is fatal.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use ndcm_wire::fields::{self, FieldValue};
use ndcm_wire::ip::{IpPrivateDataHeader, IpServiceId};
use ndcm_wire::pcap::PcapReader;
use ndcm_wire::roce::{IpFields, RoceFrame};
use ndcm_wire::{CmMad, CmMessage};

#[derive(Args)]
pub struct DecodeArgs {
    /// The capture (pcap, Ethernet or raw-IP link type).
    pub file: PathBuf,
    /// One JSON object per line and frame.
    #[arg(long)]
    pub json: bool,
}

/// What one capture record turned out to be.
pub enum Decoded {
    Mad {
        src: String,
        dst: String,
        icrc_ok: bool,
        mad: Box<CmMad>,
    },
    Malformed(String),
}

/// Decodes one record's IP packet.
pub fn decode_packet(ip: &[u8]) -> Decoded {
    let frame = match RoceFrame::new_checked(ip) {
        Ok(f) => f,
        Err(e) => return Decoded::Malformed(e.to_string()),
    };
    let (src, dst) = match frame.ip_fields() {
        IpFields::V4(v4) => (v4.src.to_string(), v4.dst.to_string()),
        IpFields::V6(v6) => (v6.src.to_string(), v6.dst.to_string()),
    };
    let icrc_ok = frame.verify_icrc().is_ok();
    match CmMad::parse(frame.mad()) {
        Ok(mad) => Decoded::Mad {
            src,
            dst,
            icrc_ok,
            mad: Box::new(mad),
        },
        Err(e) => Decoded::Malformed(e.to_string()),
    }
}

pub fn run(args: &DecodeArgs) -> ExitCode {
    match decode_file(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ndcm decode: {}: {e}", args.file.display());
            ExitCode::FAILURE
        }
    }
}

fn decode_file(args: &DecodeArgs) -> io::Result<()> {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    write_capture(&args.file, args.json, &mut out)?;
    out.flush()
}

/// Writes what `ndcm decode` prints of the capture at `path` to `out`.
pub fn write_capture(path: &Path, json: bool, out: &mut impl Write) -> io::Result<()> {
    let reader = PcapReader::new(BufReader::new(File::open(path)?))?;
    let link = reader.link_type();
    for (i, record) in reader.enumerate() {
        let number = i + 1;
        let record = record?;
        let decoded = match link.ip_payload(&record.data) {
            Ok(ip) => decode_packet(ip),
            Err(e) => Decoded::Malformed(e.to_string()),
        };
        let line = if json {
            json_line(number, &decoded)
        } else {
            text(number, &decoded)
        };
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// The rdma_cm view of a REQ: service port space/port and the private-data
/// header, when the service ID is an rdma_cm one.
fn rdma_cm(mad: &CmMad) -> Option<(IpServiceId, Option<IpPrivateDataHeader>)> {
    let CmMessage::Req(req) = &mad.message else {
        return None;
    };
    let sid = IpServiceId::from_service_id(req.service_id)?;
    Some((sid, IpPrivateDataHeader::parse(&req.private_data.0).ok()))
}

pub fn json_line(number: usize, d: &Decoded) -> String {
    let mut s = format!("{{\"frame\":{number}");
    match d {
        Decoded::Malformed(reason) => {
            let _ = write!(s, ",\"error\":{}", json_string(reason));
        }
        Decoded::Mad {
            src,
            dst,
            icrc_ok,
            mad,
        } => {
            let _ = write!(
                s,
                ",\"attribute\":\"{}\",\"tid\":{},\"icrc_ok\":{icrc_ok},\"src\":{},\"dst\":{}",
                mad.header.attribute_id.name(),
                mad.header.transaction_id,
                json_string(src),
                json_string(dst)
            );
            let mut field = |name: &'static str, v: FieldValue<'_>| {
                let _ = match v {
                    FieldValue::Uint(n) => write!(s, ",\"{name}\":{n}"),
                    FieldValue::Bool(b) => write!(s, ",\"{name}\":{b}"),
                    FieldValue::Gid(g) => write!(s, ",\"{name}\":\"{g}\""),
                    FieldValue::Bytes(b) => write!(s, ",\"{name}\":\"{}\"", hex(b)),
                    FieldValue::Code { code, .. } => write!(s, ",\"{name}\":{code}"),
                };
            };
            fields::visit_header(&mad.header, &mut field);
            fields::visit_message(&mad.message, &mut field);
            if let Some((sid, hdr)) = rdma_cm(mad) {
                let _ = write!(
                    s,
                    ",\"rdma_cm_port_space\":{},\"rdma_cm_port\":{}",
                    sid.port_space.code(),
                    sid.port
                );
                if let Some(h) = hdr {
                    let _ = write!(
                        s,
                        ",\"rdma_cm_src_ip\":\"{}\",\"rdma_cm_dst_ip\":\"{}\",\"rdma_cm_src_port\":{}",
                        h.src_addr, h.dst_addr, h.src_port
                    );
                }
            }
        }
    }
    s.push_str("}\n");
    s
}

fn text_value(v: FieldValue<'_>) -> String {
    match v {
        FieldValue::Uint(n) if n > 9 => format!("{n} ({n:#x})"),
        FieldValue::Uint(n) => n.to_string(),
        FieldValue::Bool(b) => b.to_string(),
        FieldValue::Gid(g) => g.to_string(),
        FieldValue::Code {
            code,
            name: Some(name),
        } => format!("{code} ({name})"),
        FieldValue::Code { code, name: None } => format!("{code} (unknown)"),
        FieldValue::Bytes(b) => {
            // Trailing zeros are padding: show the used prefix.
            let used = b.iter().rposition(|&x| x != 0).map_or(0, |i| i + 1);
            match used {
                0 => format!("all zero ({} bytes)", b.len()),
                _ => format!("{} (+{} zero bytes)", hex(&b[..used]), b.len() - used),
            }
        }
    }
}

pub fn text(number: usize, d: &Decoded) -> String {
    match d {
        Decoded::Malformed(reason) => format!("frame {number}: malformed: {reason}\n"),
        Decoded::Mad {
            src,
            dst,
            icrc_ok,
            mad,
        } => {
            let mut s = format!(
                "frame {number}: {src} -> {dst} {} tid {:#018x} ICRC {}\n",
                mad.header.attribute_id.name(),
                mad.header.transaction_id,
                if *icrc_ok { "ok" } else { "BAD" }
            );
            let mut field = |name: &'static str, v: FieldValue<'_>| {
                let _ = writeln!(s, "    {name}: {}", text_value(v));
            };
            fields::visit_header(&mad.header, &mut field);
            fields::visit_message(&mad.message, &mut field);
            if let Some((sid, hdr)) = rdma_cm(mad) {
                let _ = write!(
                    s,
                    "    rdma_cm: port space {} port {}",
                    sid.port_space.name().unwrap_or("unknown"),
                    sid.port
                );
                match hdr {
                    Some(h) => {
                        let _ = writeln!(s, ", {}:{} -> {}", h.src_addr, h.src_port, h.dst_addr);
                    }
                    None => s.push_str(", no valid IP private-data header\n"),
                }
            }
            s
        }
    }
}
