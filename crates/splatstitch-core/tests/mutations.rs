//! A quick, deterministic stand-in for the fuzzers (which run for minutes, see fuzz/README.md):
//! thousands of mutated real files through every reader must return, never panic.

use splatstitch_core::formats::{Format, LoadOptions, NonFinitePolicy, SaveOptions, decode, encode};
use splatstitch_core::{GaussianCloud, PlyEncoding};
use std::io::Read;

fn seed_cloud() -> GaussianCloud {
    let path = splatstitch_core::test_data::capture("fruit_drops_5k_sh3.ply").unwrap_or_else(|e| panic!("{e}"));
    let bytes = std::fs::read(path).expect("test capture");
    let mut c = decode(&bytes, Format::Ply, &LoadOptions::default()).unwrap().cloud;
    c.retain_indices(|i| i < 40);
    c
}

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

fn mutate(seed: &[u8], rng: &mut Lcg) -> Vec<u8> {
    let mut b = seed.to_vec();
    match rng.next() % 4 {
        0 => b.truncate(rng.next() % (b.len() + 1)),
        1 => {
            for _ in 0..1 + rng.next() % 8 {
                let i = rng.next() % b.len();
                b[i] = rng.next() as u8;
            }
        }
        2 => {
            let i = rng.next() % b.len();
            b.insert(i, rng.next() as u8);
        }
        _ => {
            // Digits in the header: counts and lengths are the dangerous part.
            let i = rng.next() % b.len().min(2000);
            b[i] = b"0123456789"[rng.next() % 10];
        }
    }
    b
}

#[test]
fn mutated_files_never_panic_any_reader() {
    let cloud = seed_cloud();
    let keep = LoadOptions { non_finite: NonFinitePolicy::Keep };
    let mut rng = Lcg(42);
    for format in [Format::Ply, Format::CompressedPly, Format::Splat, Format::Spz] {
        let mut seeds = vec![encode(&cloud, format, &SaveOptions::default()).unwrap()];
        if format == Format::Ply {
            for enc in [PlyEncoding::Ascii, PlyEncoding::BinaryBigEndian] {
                seeds.push(encode(&cloud, format, &SaveOptions { ply_encoding: enc, ..Default::default() }).unwrap());
            }
        }
        if format == Format::Spz {
            // An uncompressed body lets mutations reach the field decoders, not only gzip.
            let mut raw = Vec::new();
            flate2::read::GzDecoder::new(&seeds[0][..]).read_to_end(&mut raw).unwrap();
            seeds.push(raw);
        }
        let mut decoded = 0;
        for seed in &seeds {
            assert!(decode(seed, format, &keep).is_ok(), "{format:?} seed must decode");
            for _ in 0..1500 {
                if let Ok(l) = decode(&mutate(seed, &mut rng), format, &keep) {
                    decoded += 1;
                    let _ = encode(&l.cloud, format, &SaveOptions::default());
                }
            }
        }
        // Both outcomes must occur, or the mutations are not exercising the reader.
        assert!(decoded > 0 && decoded < 1500 * seeds.len(), "{format:?}: {decoded} decoded");
    }
}
