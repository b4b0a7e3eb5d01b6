//! Any bytes into the RoCEv2 QP1 decoder (IP header onwards): never panics;
//! an accepted frame re-encodes byte-identically once its masked header
//! bytes are normalised, and decodes to the same values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ndcm_wire::roce;

fuzz_target!(|data: &[u8]| {
    let _ = roce::icrc(data);
    let _ = ndcm_wire::eth::ip_payload(data);
    if let Ok((repr, mad)) = roce::decode(data) {
        let mut buf = [0u8; 400];
        let n = roce::encode(&repr, &mad, &mut buf).expect("buffer is large enough");
        assert_eq!(n, data.len());
        assert_eq!(roce::decode(&buf[..n]), Ok((repr, mad)));
    }
});
