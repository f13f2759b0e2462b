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

/// Header lines of a PLY seed (up to `end_header`) and the body after them.
fn header_lines(seed: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let end = seed.windows(11).position(|w| w == b"end_header\n").expect("a PLY seed") + 11;
    (seed[..end - 1].split(|b| *b == b'\n').collect(), &seed[end..])
}

fn join(lines: &[&[u8]], body: &[u8]) -> Vec<u8> {
    let mut out = lines.join(&b'\n');
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

/// Reorders two header lines (after `ply`), or writes one line twice; returns the file and,
/// for a repeated `element`/`property` line, the name that is now declared twice.
fn mutate_header<'a>(seed: &'a [u8], rng: &mut Lcg) -> (Vec<u8>, Option<&'a str>) {
    let (mut lines, body) = header_lines(seed);
    let n = lines.len();
    let i = 1 + rng.next() % (n - 1);
    if rng.next().is_multiple_of(2) {
        let j = 1 + rng.next() % (n - 1);
        lines.swap(i, j);
        return (join(&lines, body), None);
    }
    let line = lines[i];
    let words: Vec<&str> = std::str::from_utf8(line).unwrap().split_whitespace().collect();
    let twice = match words.first() {
        Some(&"element") => Some(words[1]),
        Some(&"property") => words.last().copied(),
        _ => None,
    };
    lines.insert(i, line);
    (join(&lines, body), twice)
}

#[test]
fn reordered_and_repeated_header_lines_are_caught_or_read_never_misread() {
    let cloud = seed_cloud();
    let keep = LoadOptions { non_finite: NonFinitePolicy::Keep, ..Default::default() };
    let mut rng = Lcg(7);
    let mut seeds = Vec::new();
    for enc in [PlyEncoding::BinaryLittleEndian, PlyEncoding::Ascii] {
        let opts = SaveOptions { ply_encoding: enc, ..Default::default() };
        seeds.push((Format::Ply, encode(&cloud, Format::Ply, &opts).unwrap()));
    }
    seeds.push((Format::CompressedPly, encode(&cloud, Format::CompressedPly, &SaveOptions::default()).unwrap()));
    let (mut repeated, mut decoded) = (0, 0);
    for (format, seed) in &seeds {
        for _ in 0..400 {
            let (bytes, twice) = mutate_header(seed, &mut rng);
            let result = decode(&bytes, *format, &keep);
            if let Some(name) = twice {
                repeated += 1;
                let err = result.err().unwrap_or_else(|| panic!("{format:?}: `{name}` declared twice was accepted"));
                assert!(err.to_string().contains(&format!("`{name}` twice")), "{format:?}: {err}");
            } else if let Ok(l) = result {
                decoded += 1;
                // A file that reads must read the same Gaussians: reordering properties moves
                // columns, never rows, so the count stays.
                assert_eq!(l.cloud.len(), cloud.len(), "{format:?}");
            }
        }
    }
    assert!(repeated > 100 && decoded > 0, "{repeated} repeated, {decoded} decoded");
}

#[test]
fn mutated_files_never_panic_any_reader() {
    let cloud = seed_cloud();
    let keep = LoadOptions { non_finite: NonFinitePolicy::Keep, ..Default::default() };
    let mut rng = Lcg(42);
    for format in [Format::Ply, Format::CompressedPly, Format::Splat, Format::Spz, Format::Glb, Format::Gltf] {
        let mut seeds = vec![encode(&cloud, format, &SaveOptions::default()).unwrap()];
        if format == Format::Ply {
            for enc in [PlyEncoding::Ascii, PlyEncoding::BinaryBigEndian] {
                seeds.push(encode(&cloud, format, &SaveOptions { ply_encoding: enc, ..Default::default() }).unwrap());
            }
        }
        if format == Format::Spz {
            // The default is version 4 (zstd streams); version 3 is gzip, and its uncompressed
            // body lets mutations reach the field decoders, not only gzip.
            let v3 = encode(&cloud, format, &SaveOptions { spz_version: 3, ..Default::default() }).unwrap();
            let mut raw = Vec::new();
            flate2::read::GzDecoder::new(&v3[..]).read_to_end(&mut raw).unwrap();
            seeds.push(v3);
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

/// SOG: the zip's checksums stop most mutations of a bundle, so the parts are mutated one at a
/// time instead: the meta.json with its real textures, and each texture under its real meta.json.
#[test]
fn mutated_sog_parts_never_panic() {
    use splatstitch_core::formats::{decode_beside, sog};
    let cloud = seed_cloud();
    let keep = LoadOptions { non_finite: NonFinitePolicy::Keep, ..Default::default() };
    let files = sog::encode_files(&cloud, &sog::SogOptions::default()).unwrap();
    let mut rng = Lcg(99);
    let (mut decoded, mut failed) = (0, 0);
    let mut count = |r: Result<_, _>| match r {
        Ok(_) => decoded += 1,
        Err(_) => failed += 1,
    };
    let genuine = |name: &str| files.texture(name);
    for _ in 0..1500 {
        let meta = mutate(&files.meta_json, &mut rng);
        count(decode_beside(&meta, Format::SogMeta, &keep, Some(&genuine)));
    }
    for (texture, bytes) in &files.textures {
        for _ in 0..200 {
            let broken = mutate(bytes, &mut rng);
            let fetch = |name: &str| if name == *texture { Ok(broken.clone()) } else { genuine(name) };
            count(decode_beside(&files.meta_json, Format::SogMeta, &keep, Some(&fetch)));
        }
    }
    let bundle = encode(&cloud, Format::Sog, &SaveOptions::default()).unwrap();
    for _ in 0..300 {
        count(decode(&mutate(&bundle, &mut rng), Format::Sog, &keep));
    }
    assert!(decoded > 0 && failed > 0, "{decoded} decoded, {failed} failed");
}
