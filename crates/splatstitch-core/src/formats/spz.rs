//! Niantic `.spz` (versions 2 and 3): a gzip stream holding a 16-byte header and then, per
//! attribute, one array over all Gaussians — positions (3 × 24-bit fixed point), alphas,
//! colours (DC scaled by 0.15), log-scales (`(s + 10)·16`), rotations (v2: x y z bytes; v3:
//! "smallest three" in 32 bits) and SH bytes. SPZ axes are right-up-back; ours (PLY's) are
//! right-down-front, so reading and writing turn the cloud 180° about x.

use super::{flip_rdf_rub, flip_rub_rdf};
use crate::cloud::{GaussianCloud, logit, sigmoid};
use crate::error::{FormatError, Result};
use crate::sh;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use std::io::{Read, Write};

const MAGIC: u32 = 0x5053_474e; // "NGSP"
const HEADER: usize = 16;
const COLOR_SCALE: f32 = 0.15;
/// Deflate cannot expand data by more than about 1032:1: a bound on honest payload sizes.
const MAX_DEFLATE_RATIO: u64 = 1040;

fn invalid(reason: impl Into<String>) -> FormatError {
    FormatError::Invalid { format: "SPZ", reason: reason.into() }
}

struct Header {
    version: u32,
    n: usize,
    degree: u8,
    fractional_bits: u8,
}

fn parse_header(h: &[u8]) -> Result<Header> {
    let word = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().unwrap());
    if word(0) != MAGIC {
        return Err(invalid("bad magic number (not an SPZ file)"));
    }
    let version = word(4);
    if version == 4 {
        return Err(FormatError::Unsupported(
            "SPZ version 4 (ZSTD streams) is not supported yet; re-export as version 2 or 3".into(),
        ));
    }
    if !(2..=3).contains(&version) {
        return Err(invalid(format!("unsupported version {version}")));
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

fn payload_size(h: &Header) -> u64 {
    let rot = if h.version == 2 { 3 } else { 4 };
    let rest = 3 * (sh::coeff_count(h.degree) as u64 - 1);
    h.n as u64 * (9 + 1 + 3 + 3 + rot + rest)
}

pub fn decode(bytes: &[u8]) -> Result<GaussianCloud> {
    let gz = bytes.starts_with(&[0x1f, 0x8b]);
    let mut reader: Box<dyn Read> = if gz { Box::new(GzDecoder::new(bytes)) } else { Box::new(bytes) };
    let mut head = [0u8; HEADER];
    reader.read_exact(&mut head).map_err(|_| invalid("file too short for the 16-byte header"))?;
    let h = parse_header(&head)?;
    let size = payload_size(&h);
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
    let n = h.n;
    let mut cloud = GaussianCloud::with_len(n, h.degree);
    let stride = cloud.coeffs_per_channel() * 3;
    let (positions, rest) = data.split_at(n * 9);
    let (alphas, rest) = rest.split_at(n);
    let (colors, rest) = rest.split_at(n * 3);
    let (scales, rest) = rest.split_at(n * 3);
    let (rotations, shs) = rest.split_at(n * if h.version == 2 { 3 } else { 4 });
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
    Ok(cloud)
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

pub fn encode(cloud: &GaussianCloud, version: u32) -> Result<Vec<u8>> {
    if !(2..=3).contains(&version) {
        return Err(FormatError::CannotWrite(format!("SPZ version {version} (2 or 3 can be written)")));
    }
    let mut c = cloud.clone();
    flip_rdf_rub(&mut c);
    let n = c.len();
    if n > u32::MAX as usize {
        return Err(FormatError::CannotWrite("too many Gaussians for SPZ".into()));
    }
    // As many fractional bits (up to 12) as the largest coordinate allows in 24 bits.
    let max_abs = c.positions.iter().flatten().fold(0f32, |m, v| m.max(v.abs()));
    let mut fb = 12u8;
    while fb > 0 && max_abs * (1u32 << fb) as f32 >= (1 << 23) as f32 - 1.0 {
        fb -= 1;
    }
    if max_abs * (1u32 << fb) as f32 >= (1 << 23) as f32 {
        return Err(FormatError::CannotWrite(format!("coordinate {max_abs} is too large for SPZ")));
    }
    let stride = c.coeffs_per_channel() * 3;
    let rest_count = stride - 3;
    let mut out = Vec::with_capacity(HEADER + n * (23 + rest_count));
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out.extend_from_slice(&[c.sh_degree, fb, 0, 0]);
    let scale = (1u32 << fb) as f32;
    for p in &c.positions {
        for v in p {
            let fixed = (v * scale).round() as i32;
            out.extend_from_slice(&fixed.to_le_bytes()[..3]);
        }
    }
    out.extend(c.opacities.iter().map(|o| to_u8(sigmoid(*o) * 255.0)));
    for i in 0..n {
        for ch in 0..3 {
            out.push(to_u8(c.sh[i * stride + ch] * COLOR_SCALE * 255.0 + 127.5));
        }
    }
    out.extend(c.log_scales.iter().flatten().map(|s| to_u8((s + 10.0) * 16.0)));
    for q in &c.rotations {
        let len = q.iter().map(|v| v * v).sum::<f32>().sqrt();
        let [w, x, y, z] = if len > 0.0 { q.map(|v| v / len) } else { [1.0, 0.0, 0.0, 0.0] };
        if version == 2 {
            let s = if w < 0.0 { -1.0 } else { 1.0 };
            out.extend([x, y, z].map(|v| to_u8(v * s * 127.5 + 127.5)));
        } else {
            out.extend_from_slice(&pack_smallest_three([x, y, z, w]).to_le_bytes());
        }
    }
    for i in 0..n {
        for r in 0..rest_count {
            let (k, channel) = (1 + r / 3, r % 3);
            let bits = if k <= 3 { 5 } else { 4 };
            out.push(quantize_sh(c.sh[i * stride + k * 3 + channel], bits));
        }
    }
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&out)?;
    Ok(gz.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
