//! Fuzz the entry decoder: arbitrary bytes must never panic, and whatever decodes must
//! re-encode canonically (decode ∘ encode is the identity on the bytes the encoder writes).
#![no_main]

use albedo_ledger::{Envelope, Verifier};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Verifier::new().check(data);
    if let Ok(env) = Envelope::decode(0, data) {
        let once = env.encode().expect("a decoded entry encodes");
        let again = Envelope::decode(0, &once).expect("an encoded entry decodes");
        assert_eq!(again.encode().expect("re-encode"), once, "encoding is not canonical");
    }
});
