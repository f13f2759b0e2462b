//! Niantic `.spz`. Every version stores, per attribute, one array over all Gaussians —
//! positions (3 × 24-bit fixed point), alphas, colours (DC scaled by 0.15), log-scales
//! (`(s + 10)·16`), rotations (v2: x y z bytes; v3 and v4: "smallest three" in 32 bits) and SH
//! bytes. Versions 2 and 3 put a 16-byte header and the arrays in one gzip stream; version 4
//! has a plain 32-byte header, a table of contents and one zstd frame per array. SPZ axes are
//! right-up-back; ours (PLY's) are right-down-front, so reading and writing turn the cloud
//! 180° about x.

use super::{flip_rdf_rub, flip_rub_rdf};
use crate::cloud::{GaussianCloud, logit, sigmoid};
use crate::error::{FormatError, Result};
use crate::sh;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use rayon::prelude::*;
use std::io::{Read, Write};

const MAGIC: u32 = 0x5053_474e; // "NGSP"
const LEGACY_HEADER: usize = 16;
const V4_HEADER: usize = 32;
/// Versions that can be read and written.
pub const VERSIONS: std::ops::RangeInclusive<u32> = 2..=4;
/// Written unless told otherwise: what splat-transform and SuperSplat write today, smaller
/// than v3 and faster to decode; readers older than 2025 need `3`.
pub const DEFAULT_VERSION: u32 = 4;
const COLOR_SCALE: f32 = 0.15;
/// Deflate cannot expand data by more than about 1032:1: a bound on honest payload sizes.
const MAX_DEFLATE_RATIO: u64 = 1040;
/// Nor can zstd by more than 32768:1 (a 4-byte run-length block for 128 KiB), plus a frame header.
const MAX_ZSTD_RATIO: u64 = 32_768;
/// Measured on flowers_93k: level 6 writes 1.93 MB in 0.09 s, the reference writer's level 12
/// 1.89 MB in 0.32 s (on a 2M SH3 cloud 3.3 s against 24.6 s): 2 % larger, 4–7× faster.
const ZSTD_LEVEL: i32 = 6;
const STREAM_NAMES: [&str; 6] = ["positions", "alphas", "colours", "scales", "rotations", "SH"];

fn invalid(reason: impl Into<String>) -> FormatError {
    FormatError::Invalid { format: "SPZ", reason: reason.into() }
}

struct Header {
    version: u32,
    n: usize,
    degree: u8,
    fractional_bits: u8,
}

/// The first 16 bytes, which every version shares.
fn parse_header(h: &[u8]) -> Result<Header> {
    let word = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().unwrap());
    if word(0) != MAGIC {
        return Err(invalid("bad magic number (not an SPZ file)"));
    }
    let version = word(4);
    if !VERSIONS.contains(&version) {
        return Err(invalid(format!("unsupported version {version} (versions 2 to 4 are read)")));
    }
    let degree = h[12];
    if degree > 3 {
        return Err(invalid(format!("SH degree {degree} (at most 3 supported)")));
    }
    let fractional_bits = h[13];
    if fractional_bits > 24 {
        return Err(invalid(format!("{fractional_bits} fractional bits")));
    }
    Ok(Header { version, n: word(8) as usize, degree, fractional_bits })
}

/// Bytes of each attribute array, in file order.
fn array_sizes(h: &Header) -> [u64; 6] {
    let n = h.n as u64;
    let rot = if h.version == 2 { 3 } else { 4 };
    let rest = 3 * (sh::coeff_count(h.degree) as u64 - 1);
    [n * 9, n, n * 3, n * 3, n * rot, n * rest]
}

/// A decoded cloud and the SPZ version it was stored in.
pub fn decode(bytes: &[u8]) -> Result<(GaussianCloud, u32)> {
    let gz = bytes.starts_with(&[0x1f, 0x8b]);
    if !gz && bytes.len() >= LEGACY_HEADER {
        let h = parse_header(&bytes[..LEGACY_HEADER])?;
        if h.version >= 4 {
            return decode_v4(bytes, &h).map(|c| (c, h.version));
        }
    }
    decode_legacy(bytes, gz)
}

/// Versions 2 and 3: the header and the arrays in one gzip stream (or, rarely, uncompressed).
fn decode_legacy(bytes: &[u8], gz: bool) -> Result<(GaussianCloud, u32)> {
    let mut reader: Box<dyn Read> = if gz { Box::new(GzDecoder::new(bytes)) } else { Box::new(bytes) };
    let mut head = [0u8; LEGACY_HEADER];
    reader.read_exact(&mut head).map_err(|_| invalid("file too short for the 16-byte header"))?;
    let h = parse_header(&head)?;
    if h.version >= 4 {
        return Err(invalid(format!("version {} inside a gzip stream (version 4 is not gzipped)", h.version)));
    }
    let sizes = array_sizes(&h);
    let size: u64 = sizes.iter().sum();
    let bound = if gz { bytes.len() as u64 * MAX_DEFLATE_RATIO } else { bytes.len() as u64 };
    if size > bound {
        return Err(FormatError::AbsurdCount {
            element: "SPZ points".into(),
            count: h.n as u64,
            available: bytes.len() as u64,
        });
    }
    let mut data = Vec::with_capacity(size as usize);
    reader.take(size).read_to_end(&mut data).map_err(|e| invalid(format!("corrupt compressed stream: {e}")))?;
    if (data.len() as u64) < size {
        return Err(FormatError::Truncated { expected: size, actual: data.len() as u64 });
    }
    let mut arrays: [&[u8]; 6] = [&[]; 6];
    let mut rest = &data[..];
    for (a, s) in arrays.iter_mut().zip(sizes) {
        (*a, rest) = rest.split_at(s as usize);
    }
    Ok((unpack(&h, arrays), h.version))
}

/// Version 4: the 32-byte header, a table of (compressed, uncompressed) sizes at its offset,
/// then one zstd frame per array (none for SH at degree 0).
fn decode_v4(bytes: &[u8], h: &Header) -> Result<GaussianCloud> {
    if bytes.len() < V4_HEADER {
        return Err(invalid("file too short for the 32-byte version 4 header"));
    }
    let streams = bytes[15] as usize;
    let toc = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
    let sizes = array_sizes(h);
    let expected = if h.degree == 0 { 5 } else { 6 };
    if streams != expected {
        return Err(invalid(format!("{streams} streams; SH degree {} needs {expected}", h.degree)));
    }
    if toc < V4_HEADER || toc.saturating_add(streams * 16) > bytes.len() {
        return Err(invalid(format!("table of contents at byte {toc} lies outside the {}-byte file", bytes.len())));
    }
    let mut frames = Vec::with_capacity(streams);
    let mut offset = (toc + streams * 16) as u64;
    for (i, size) in sizes.iter().take(streams).enumerate() {
        let entry = &bytes[toc + i * 16..toc + i * 16 + 16];
        let compressed = u64::from_le_bytes(entry[..8].try_into().unwrap());
        let uncompressed = u64::from_le_bytes(entry[8..].try_into().unwrap());
        let name = STREAM_NAMES[i];
        if uncompressed != *size {
            return Err(invalid(format!("{name} stream holds {uncompressed} bytes; {} points need {size}", h.n)));
        }
        let end = offset.checked_add(compressed).filter(|e| *e <= bytes.len() as u64).ok_or_else(|| {
            FormatError::Truncated { expected: offset.saturating_add(compressed), actual: bytes.len() as u64 }
        })?;
        if uncompressed > compressed.saturating_add(64).saturating_mul(MAX_ZSTD_RATIO) {
            return Err(FormatError::AbsurdCount {
                element: "SPZ points".into(),
                count: h.n as u64,
                available: bytes.len() as u64,
            });
        }
        frames.push((name, &bytes[offset as usize..end as usize], uncompressed));
        offset = end;
    }
    let data: Vec<Vec<u8>> =
        frames.into_par_iter().map(|(name, f, size)| inflate_zstd(name, f, size)).collect::<Result<_>>()?;
    let mut arrays: [&[u8]; 6] = [&[]; 6];
    for (a, d) in arrays.iter_mut().zip(&data) {
        *a = d;
    }
    Ok(unpack(h, arrays))
}

/// Exactly `size` bytes out of a zstd frame; the buffer grows only as data arrives, so a
/// claimed size is never trusted with memory.
fn inflate_zstd(name: &str, frame: &[u8], size: u64) -> Result<Vec<u8>> {
    let corrupt = |e: std::io::Error| invalid(format!("corrupt {name} stream: {e}"));
    let decoder = zstd::stream::read::Decoder::with_buffer(frame).map_err(corrupt)?;
    let mut out = Vec::with_capacity(size.min(frame.len() as u64 * 16 + (1 << 16)) as usize);
    decoder.take(size).read_to_end(&mut out).map_err(corrupt)?;
    if (out.len() as u64) < size {
        return Err(invalid(format!("{name} stream ends after {} of its {size} bytes", out.len())));
    }
    Ok(out)
}

/// The cloud from the attribute arrays (each of the length [`array_sizes`] gives).
fn unpack(h: &Header, [positions, alphas, colors, scales, rotations, shs]: [&[u8]; 6]) -> GaussianCloud {
    let n = h.n;
    let mut cloud = GaussianCloud::with_len(n, h.degree);
    let stride = cloud.coeffs_per_channel() * 3;
    let unit = 1.0 / (1u32 << h.fractional_bits) as f32;
    let rest_count = 3 * (sh::coeff_count(h.degree) - 1);
    for i in 0..n {
        for c in 0..3 {
            let b = &positions[i * 9 + c * 3..i * 9 + c * 3 + 3];
            let fixed = i32::from_le_bytes([b[0], b[1], b[2], 0]) << 8 >> 8;
            cloud.positions[i][c] = fixed as f32 * unit;
            cloud.log_scales[i][c] = scales[i * 3 + c] as f32 / 16.0 - 10.0;
            cloud.sh[i * stride + c] = (colors[i * 3 + c] as f32 / 255.0 - 0.5) / COLOR_SCALE;
        }
        cloud.opacities[i] = logit(alphas[i] as f32 / 255.0);
        cloud.rotations[i] = if h.version == 2 {
            let xyz: [f32; 3] = std::array::from_fn(|c| rotations[i * 3 + c] as f32 / 127.5 - 1.0);
            let w = (1.0 - xyz.iter().map(|v| v * v).sum::<f32>()).max(0.0).sqrt();
            [w, xyz[0], xyz[1], xyz[2]]
        } else {
            let xyzw = unpack_smallest_three(u32::from_le_bytes(rotations[i * 4..i * 4 + 4].try_into().unwrap()));
            [xyzw[3], xyzw[0], xyzw[1], xyzw[2]]
        };
        // SPZ interleaves channels per coefficient: (k1 r g b), (k2 r g b), ...
        for r in 0..rest_count {
            let (k, channel) = (1 + r / 3, r % 3);
            cloud.sh[i * stride + k * 3 + channel] = (shs[i * rest_count + r] as f32 - 128.0) / 128.0;
        }
    }
    flip_rub_rdf(&mut cloud);
    cloud
}

/// Quaternion `(x, y, z, w)` from the v3 encoding: 2 bits for the index of the largest
/// component, then for each other component a sign bit and a 9-bit magnitude over [0, √½].
fn unpack_smallest_three(mut packed: u32) -> [f32; 4] {
    let mask = (1u32 << 9) - 1;
    let largest = (packed >> 30) as usize;
    let mut q = [0f32; 4];
    let mut sum = 0.0;
    for j in (0..4).rev() {
        if j != largest {
            let mag = packed & mask;
            let neg = (packed >> 9) & 1 == 1;
            packed >>= 10;
            let v = std::f32::consts::FRAC_1_SQRT_2 * mag as f32 / mask as f32;
            q[j] = if neg { -v } else { v };
            sum += q[j] * q[j];
        }
    }
    q[largest] = (1.0 - sum).max(0.0).sqrt();
    q
}

fn pack_smallest_three(xyzw: [f32; 4]) -> u32 {
    let largest = (0..4).fold(0, |b, i| if xyzw[i].abs() > xyzw[b].abs() { i } else { b });
    let q = if xyzw[largest] < 0.0 { xyzw.map(|v| -v) } else { xyzw };
    let mask = (1u32 << 9) - 1;
    let mut out = largest as u32;
    for (i, v) in q.iter().enumerate() {
        if i != largest {
            let mag = ((v.abs() / std::f32::consts::FRAC_1_SQRT_2) * mask as f32 + 0.5).floor().min(mask as f32) as u32;
            out = (out << 10) | (u32::from(*v < 0.0) << 9) | mag;
        }
    }
    out
}

fn to_u8(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// SH byte with the precision SPZ gives each band (5 bits for band 1, 4 above).
fn quantize_sh(v: f32, bits: u32) -> u8 {
    let q = (v * 128.0 + 128.0).round() as i32;
    let bucket = 1 << (8 - bits);
    ((q + bucket / 2) / bucket * bucket).clamp(0, 255) as u8
}

/// As many fractional bits (up to 12) as the largest coordinate allows in 24 bits.
fn fractional_bits(positions: &[[f32; 3]]) -> Result<u8> {
    let max_abs = positions.iter().flatten().fold(0f32, |m, v| m.max(v.abs()));
    let mut fb = 12u8;
    while fb > 0 && max_abs * (1u32 << fb) as f32 >= (1 << 23) as f32 - 1.0 {
        fb -= 1;
    }
    if max_abs * (1u32 << fb) as f32 >= (1 << 23) as f32 {
        return Err(FormatError::CannotWrite(format!("coordinate {max_abs} is too large for SPZ")));
    }
    Ok(fb)
}

/// Gaussians turned into SPZ axes a stretch at a time: a large cloud is never copied whole.
const PACK_STRETCH: usize = 1 << 16;

/// The attribute arrays of `cloud` (in our axes) and its fractional bits.
fn pack(cloud: &GaussianCloud, version: u32) -> Result<(u8, [Vec<u8>; 6])> {
    let fb = fractional_bits(&cloud.positions)?;
    let n = cloud.len();
    let rest_count = cloud.coeffs_per_channel() * 3 - 3;
    let rot = if version == 2 { 3 } else { 4 };
    let mut arrays: [Vec<u8>; 6] = [9, 1, 3, 3, rot, rest_count].map(|b| Vec::with_capacity(n * b));
    for start in (0..n).step_by(PACK_STRETCH) {
        let mut c = cloud.rows(start..start + PACK_STRETCH);
        flip_rdf_rub(&mut c);
        pack_into(&c, version, fb, &mut arrays);
    }
    Ok((fb, arrays))
}

/// Appends `c` (in SPZ axes) to the attribute arrays.
fn pack_into(c: &GaussianCloud, version: u32, fb: u8, arrays: &mut [Vec<u8>; 6]) {
    let [positions, alphas, colors, scales, rotations, shs] = arrays;
    let stride = c.coeffs_per_channel() * 3;
    let rest_count = stride - 3;
    let scale = (1u32 << fb) as f32;
    for p in &c.positions {
        for v in p {
            let fixed = (v * scale).round() as i32;
            positions.extend_from_slice(&fixed.to_le_bytes()[..3]);
        }
    }
    alphas.extend(c.opacities.iter().map(|o| to_u8(sigmoid(*o) * 255.0)));
    for block in c.sh.chunks_exact(stride) {
        colors.extend(block[..3].iter().map(|v| to_u8(v * COLOR_SCALE * 255.0 + 127.5)));
    }
    scales.extend(c.log_scales.iter().flatten().map(|s| to_u8((s + 10.0) * 16.0)));
    for q in &c.rotations {
        let len = q.iter().map(|v| v * v).sum::<f32>().sqrt();
        let [w, x, y, z] = if len > 0.0 { q.map(|v| v / len) } else { [1.0, 0.0, 0.0, 0.0] };
        if version == 2 {
            let s = if w < 0.0 { -1.0 } else { 1.0 };
            rotations.extend([x, y, z].map(|v| to_u8(v * s * 127.5 + 127.5)));
        } else {
            rotations.extend_from_slice(&pack_smallest_three([x, y, z, w]).to_le_bytes());
        }
    }
    for block in c.sh.chunks_exact(stride) {
        for r in 0..rest_count {
            let (k, channel) = (1 + r / 3, r % 3);
            let bits = if k <= 3 { 5 } else { 4 };
            shs.push(quantize_sh(block[k * 3 + channel], bits));
        }
    }
}

pub fn encode(cloud: &GaussianCloud, version: u32) -> Result<Vec<u8>> {
    if !VERSIONS.contains(&version) {
        return Err(FormatError::CannotWrite(format!("SPZ version {version} (2, 3 or 4 can be written)")));
    }
    let c = cloud;
    let n = c.len();
    if n > u32::MAX as usize {
        return Err(FormatError::CannotWrite("too many Gaussians for SPZ".into()));
    }
    let (fb, arrays) = pack(c, version)?;
    let mut header = Vec::with_capacity(V4_HEADER);
    header.extend_from_slice(&MAGIC.to_le_bytes());
    header.extend_from_slice(&version.to_le_bytes());
    header.extend_from_slice(&(n as u32).to_le_bytes());
    if version < 4 {
        header.extend_from_slice(&[c.sh_degree, fb, 0, 0]);
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&header)?;
        for a in &arrays {
            gz.write_all(a)?;
        }
        return Ok(gz.finish()?);
    }
    let streams = if c.sh_degree == 0 { 5 } else { 6 };
    // No extensions, so the table of contents follows the header.
    header.extend_from_slice(&[c.sh_degree, fb, 0, streams as u8]);
    header.extend_from_slice(&(V4_HEADER as u32).to_le_bytes());
    header.resize(V4_HEADER, 0);
    let frames: Vec<Vec<u8>> =
        arrays[..streams].par_iter().map(|a| zstd::bulk::compress(a, ZSTD_LEVEL)).collect::<Result<_, _>>()?;
    let mut out = header;
    for (a, f) in arrays.iter().zip(&frames) {
        out.extend_from_slice(&(f.len() as u64).to_le_bytes());
        out.extend_from_slice(&(a.len() as u64).to_le_bytes());
    }
    for f in &frames {
        out.extend_from_slice(f);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::formats::test_cloud as cloud;

    #[test]
    fn version_4_holds_the_arrays_of_version_3_in_zstd_streams() {
        for degree in [0u8, 1, 3] {
            let c = cloud(300, degree);
            let v3 = encode(&c, 3).unwrap();
            let v4 = encode(&c, 4).unwrap();
            let mut body = Vec::new();
            GzDecoder::new(&v3[..]).read_to_end(&mut body).unwrap();
            let streams = if degree == 0 { 5 } else { 6 };
            assert_eq!(v4[..4], body[..4]);
            assert_eq!(u32::from_le_bytes(v4[4..8].try_into().unwrap()), 4);
            assert_eq!(v4[8..14], body[8..14], "count, degree and fractional bits as in v3");
            assert_eq!((v4[14], v4[15] as usize), (0, streams));
            assert_eq!(u32::from_le_bytes(v4[16..20].try_into().unwrap()), 32);
            assert!(v4[20..32].iter().all(|b| *b == 0));
            let mut offset = 32 + streams * 16;
            let mut arrays = Vec::new();
            for i in 0..streams {
                let entry = &v4[32 + i * 16..48 + i * 16];
                let compressed = u64::from_le_bytes(entry[..8].try_into().unwrap()) as usize;
                let size = u64::from_le_bytes(entry[8..].try_into().unwrap()) as usize;
                let array = zstd::bulk::decompress(&v4[offset..offset + compressed], size).unwrap();
                assert_eq!(array.len(), size);
                arrays.extend(array);
                offset += compressed;
            }
            assert_eq!(offset, v4.len(), "the last stream ends the file");
            assert_eq!(arrays, body[16..], "degree {degree}");
            let (a, version) = decode(&v3).unwrap();
            let (b, version4) = decode(&v4).unwrap();
            assert_eq!((version, version4), (3, 4));
            assert_eq!(a, b, "both versions decode to the same cloud");
        }
    }

    #[test]
    fn smallest_three_round_trip() {
        for q in [[0.1f32, -0.7, 0.2, 0.67], [0.9, 0.1, -0.3, 0.3], [0.0, 0.0, 0.0, 1.0]] {
            let len = q.iter().map(|v| v * v).sum::<f32>().sqrt();
            let q = q.map(|v| v / len);
            let r = unpack_smallest_three(pack_smallest_three(q));
            let dot: f32 = q.iter().zip(&r).map(|(a, b)| a * b).sum();
            assert!(dot.abs() > 0.9999, "{q:?} vs {r:?}");
        }
    }

    #[test]
    fn packing_in_stretches_writes_what_one_pass_over_the_turned_cloud_writes() {
        let c = cloud(2 * PACK_STRETCH + 7, 1);
        for version in [2, 3] {
            let mut whole = c.clone();
            flip_rdf_rub(&mut whole);
            let fb = fractional_bits(&whole.positions).unwrap();
            let mut one_pass: [Vec<u8>; 6] = Default::default();
            pack_into(&whole, version, fb, &mut one_pass);
            assert!(pack(&c, version).unwrap() == (fb, one_pass), "version {version}");
        }
    }
}
