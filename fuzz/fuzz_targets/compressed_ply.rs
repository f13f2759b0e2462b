//! Fuzzes the compressed_ply reader: any bytes must decode or fail with an error, never panic, hang or
//! allocate by an unchecked count; whatever decodes must encode and decode again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use splatstitch_core::formats::{decode, encode, Format, LoadOptions, NonFinitePolicy, SaveOptions};

fuzz_target!(|data: &[u8]| {
    let opts = LoadOptions { non_finite: NonFinitePolicy::Keep, ..Default::default() };
    if let Ok(loaded) = decode(data, Format::CompressedPly, &opts)
        && let Ok(bytes) = encode(&loaded.cloud, Format::CompressedPly, &SaveOptions::default())
    {
        decode(&bytes, Format::CompressedPly, &opts).expect("our own output must decode");
    }
});
