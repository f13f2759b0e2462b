//! Fuzzes the compressed_ply reader: any bytes must decode or fail with an error, never panic, hang or
//! allocate by an unchecked count; whatever decodes must encode and decode again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use splatstitch_core::formats::{check_round_trip, Format};

fuzz_target!(|data: &[u8]| check_round_trip(data, Format::CompressedPly).expect("our own output must decode"));
