//! antimatter15 `.splat`: a headerless array of 32-byte records — position (3 × f32), linear
//! scale (3 × f32), RGBA (4 × u8, colour = 0.5 + C0·DC, alpha = opacity), rotation (4 × u8,
//! `(q·128 + 128)`, order w x y z). Little endian, SH degree 0.

use crate::cloud::{GaussianCloud, logit, sigmoid};
use crate::error::{FormatError, Result};
use crate::sh::SH_C0;

pub const RECORD: usize = 32;

pub fn decode(bytes: &[u8]) -> Result<GaussianCloud> {
    if !bytes.len().is_multiple_of(RECORD) {
        return Err(FormatError::Invalid {
            format: ".splat",
            reason: format!(
                "size {} is not a multiple of {RECORD} bytes (truncated or not a .splat file)",
                bytes.len()
            ),
        });
    }
    let n = bytes.len() / RECORD;
    let mut cloud = GaussianCloud::with_len(n, 0);
    let f = |r: &[u8], i: usize| f32::from_le_bytes(r[i * 4..i * 4 + 4].try_into().unwrap());
    for (i, r) in bytes.chunks_exact(RECORD).enumerate() {
        cloud.positions[i] = [f(r, 0), f(r, 1), f(r, 2)];
        cloud.log_scales[i] = [f(r, 3).ln(), f(r, 4).ln(), f(r, 5).ln()];
        for c in 0..3 {
            cloud.sh[i * 3 + c] = (r[24 + c] as f32 / 255.0 - 0.5) / SH_C0;
        }
        cloud.opacities[i] = logit(r[27] as f32 / 255.0);
        cloud.rotations[i] = std::array::from_fn(|c| (r[28 + c] as f32 - 128.0) / 128.0);
    }
    Ok(cloud)
}

fn to_u8(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

pub fn encode(cloud: &GaussianCloud) -> Result<Vec<u8>> {
    let stride = cloud.coeffs_per_channel() * 3;
    let mut out = Vec::with_capacity(cloud.len() * RECORD);
    for i in 0..cloud.len() {
        for v in cloud.positions[i] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in cloud.log_scales[i] {
            out.extend_from_slice(&v.exp().to_le_bytes());
        }
        for c in 0..3 {
            out.push(to_u8((0.5 + SH_C0 * cloud.sh[i * stride + c]) * 255.0));
        }
        out.push(to_u8(sigmoid(cloud.opacities[i]) * 255.0));
        let q = cloud.rotations[i];
        let len = q.iter().map(|v| v * v).sum::<f32>().sqrt();
        let q = if len > 0.0 { q.map(|v| v / len) } else { [1.0, 0.0, 0.0, 0.0] };
        for v in q {
            out.push(to_u8(v * 128.0 + 128.0));
        }
    }
    Ok(out)
}
