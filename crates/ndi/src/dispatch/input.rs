//! Validation of raw IOCTL buffers (spec/NDI.md §1, S7): header, exact
//! sizes, reserved fields, variable parts, addresses, enums. Pure
//! functions of the bytes: nothing here looks at driver state, so a failure
//! here changes nothing by construction.

use crate::NdiError;
use crate::abi::{
    AbiField, NDCM_ABI_VERSION, NDCM_AF_INET, NDCM_AF_INET6, NDCM_PROTOCOL_TCP, NDCM_PROTOCOL_UDP,
    NdcmAddress, NdcmHeader,
};
use crate::cm_port::{IpAddr, IpEndpoint, PortSpace};

/// Reads the common header: too short → INVALID_PARAMETER, unknown version
/// → INVALID_DEVICE_REQUEST, flags → INVALID_PARAMETER.
pub fn header(input: &[u8]) -> Result<NdcmHeader, NdiError> {
    let h = NdcmHeader::read(input, 0).ok_or(NdiError::InputSize)?;
    if h.version != NDCM_ABI_VERSION {
        return Err(NdiError::UnknownRequest);
    }
    if h.flags != 0 {
        return Err(NdiError::InvalidParameter);
    }
    Ok(h)
}

/// A fixed-size input: header checks, then the length must be exact.
pub fn fixed<T: AbiField>(input: &[u8]) -> Result<T, NdiError> {
    header(input)?;
    if input.len() != T::SIZE {
        return Err(NdiError::InputSize);
    }
    T::read(input, 0).ok_or(NdiError::InputSize)
}

/// A fixed part followed by one `(length, offset)` variable part of at most
/// `max` bytes. Returns the structure and the variable bytes.
pub fn with_pdata<T: AbiField>(
    input: &[u8],
    pdata: impl Fn(&T) -> (u32, u32),
    max: u32,
) -> Result<(T, &[u8]), NdiError> {
    header(input)?;
    let fixed = T::read(input, 0).ok_or(NdiError::InputSize)?;
    let (length, offset) = pdata(&fixed);
    if length > max {
        return Err(NdiError::PrivateDataTooLong);
    }
    let length = length as usize;
    let offset = offset as usize;
    if input.len() != T::SIZE + length {
        return Err(NdiError::InputSize);
    }
    if length == 0 {
        // An empty part names no bytes; 0 or the end of the fixed part.
        if offset != 0 && offset != T::SIZE {
            return Err(NdiError::InvalidParameter);
        }
        return Ok((fixed, &[]));
    }
    // The only variable part: it must sit right after the fixed part, which
    // also rules out overlapping the fixed fields.
    if offset != T::SIZE {
        return Err(NdiError::InvalidParameter);
    }
    let bytes = input
        .get(offset..offset + length)
        .ok_or(NdiError::InvalidParameter)?;
    Ok((fixed, bytes))
}

/// The output buffer a request needs.
#[derive(Clone, Copy, Debug)]
pub enum Output {
    /// No output: the length must be 0.
    None,
    /// Exactly this many bytes.
    Exact(usize),
    /// Between these (inclusive).
    Range(usize, usize),
}

/// Checks the output length: smaller → BUFFER_TOO_SMALL, larger or any for
/// a request without output → INVALID_PARAMETER.
pub fn output(len: usize, want: Output) -> Result<(), NdiError> {
    let (min, max) = match want {
        Output::None => (0, 0),
        Output::Exact(n) => (n, n),
        Output::Range(a, b) => (a, b),
    };
    if len < min {
        Err(NdiError::OutputTooSmall)
    } else if len > max {
        Err(NdiError::InvalidParameter)
    } else {
        Ok(())
    }
}

/// Must-be-zero fields.
pub fn reserved(values: &[u64]) -> Result<(), NdiError> {
    if values.iter().all(|v| *v == 0) {
        Ok(())
    } else {
        Err(NdiError::InvalidParameter)
    }
}

/// The port space of a protocol field.
pub fn port_space(protocol: u32) -> Result<PortSpace, NdiError> {
    match protocol {
        NDCM_PROTOCOL_TCP => Ok(PortSpace::Tcp),
        NDCM_PROTOCOL_UDP => Ok(PortSpace::Udp),
        _ => Err(NdiError::InvalidParameter),
    }
}

/// An address: known family, reserved zero, IPv4's unused bytes zero.
pub fn address(a: &NdcmAddress) -> Result<IpEndpoint, NdiError> {
    if a.reserved != 0 {
        return Err(NdiError::InvalidParameter);
    }
    let addr = match a.family {
        NDCM_AF_INET => {
            let (v4, rest) = a.addr.split_at(4);
            if rest.iter().any(|b| *b != 0) {
                return Err(NdiError::InvalidParameter);
            }
            IpAddr::V4(v4.try_into().map_err(|_| NdiError::InvalidParameter)?)
        }
        NDCM_AF_INET6 => IpAddr::V6(a.addr),
        _ => return Err(NdiError::InvalidParameter),
    };
    Ok(IpEndpoint {
        addr,
        port: u16::from_be(a.port_be),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::NdcmRejCmIn;

    fn rej(len: u32, off: u32, extra: usize) -> alloc::vec::Vec<u8> {
        let s = NdcmRejCmIn {
            header: NdcmHeader {
                version: NDCM_ABI_VERSION,
                flags: 0,
            },
            connection: 5,
            pdata_length: len,
            pdata_offset: off,
        };
        let mut v = s.to_bytes().to_vec();
        v.resize(v.len() + extra, 0xAB);
        v
    }

    #[test]
    fn variable_part_must_be_exact_and_within_limit() {
        let f = |s: &NdcmRejCmIn| (s.pdata_length, s.pdata_offset);
        assert!(with_pdata::<NdcmRejCmIn>(&rej(4, 24, 4), f, 148).is_ok());
        assert_eq!(
            with_pdata::<NdcmRejCmIn>(&rej(4, 24, 4), f, 148).unwrap().1,
            &[0xAB; 4]
        );
        assert_eq!(
            with_pdata::<NdcmRejCmIn>(&rej(4, 24, 5), f, 148).unwrap_err(),
            NdiError::InputSize
        );
        assert_eq!(
            with_pdata::<NdcmRejCmIn>(&rej(4, 20, 4), f, 148).unwrap_err(),
            NdiError::InvalidParameter
        );
        assert_eq!(
            with_pdata::<NdcmRejCmIn>(&rej(149, 24, 149), f, 148).unwrap_err(),
            NdiError::PrivateDataTooLong
        );
        assert_eq!(
            with_pdata::<NdcmRejCmIn>(&rej(0, 0, 0), f, 148).unwrap().1,
            &[] as &[u8]
        );
        assert_eq!(
            with_pdata::<NdcmRejCmIn>(&rej(0, 7, 0), f, 148).unwrap_err(),
            NdiError::InvalidParameter
        );
        assert_eq!(
            with_pdata::<NdcmRejCmIn>(&[1, 0, 0], f, 148).unwrap_err(),
            NdiError::InputSize
        );
        let mut v2 = rej(0, 0, 0);
        v2[0] = 99;
        assert_eq!(
            with_pdata::<NdcmRejCmIn>(&v2, f, 148).unwrap_err(),
            NdiError::UnknownRequest
        );
    }
}
