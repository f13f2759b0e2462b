//! A global colour transfer fitted on the seam: per channel, the gain and offset that map the
//! target's field colour at the boundary points onto the source's field colour there. Not part
//! of the paper's method: an optional warm start before the optimizer (`SPLATSTITCH_INIT=affine`,
//! measured in docs/BENCHMARKS.md), since two captures of one object mostly differ by exposure
//! and white balance — an affine map per channel — which the point-space losses recover poorly.

use crate::boundary::Boundary;
use crate::poisson::{dc_colors, field_weights};
use crate::recolor::Tint;
use splatstitch_core::GaussianCloud;

/// Fewer seam points than this fit nothing.
pub const MIN_POINTS: usize = 32;
/// Gains are kept inside `[1/MAX_GAIN, MAX_GAIN]`.
pub const MAX_GAIN: f32 = 4.0;

/// Fits the transfer, or `None` when the seam is too small or degenerate. The gain is the ratio
/// of standard deviations signed by the correlation (a symmetric fit: least squares on noisy
/// field colours would shrink it towards zero).
pub fn fit(target: &GaussianCloud, source: &GaussianCloud, boundary: &Boundary) -> Option<Tint> {
    let seam: Vec<[f32; 3]> = boundary.members.iter().map(|&m| target.positions[m as usize]).collect();
    let from_source = field_weights(source, &seam);
    let covered: Vec<[f32; 3]> = from_source.points.iter().map(|&i| seam[i]).collect();
    let from_target = field_weights(target, &covered);
    if from_target.points.len() < MIN_POINTS {
        return None;
    }
    let s_all = from_source.apply(&dc_colors(source));
    let t = from_target.apply(&dc_colors(target));
    let s: Vec<[f32; 3]> = from_target.points.iter().map(|&i| s_all[i]).collect();
    let n = t.len() as f64;
    let mut tint = Tint { gain: [1.0; 3], offset: [0.0; 3] };
    for c in 0..3 {
        let mt = t.iter().map(|v| v[c] as f64).sum::<f64>() / n;
        let ms = s.iter().map(|v| v[c] as f64).sum::<f64>() / n;
        let (mut vt, mut vs, mut cov) = (0.0, 0.0, 0.0);
        for (a, b) in t.iter().zip(&s) {
            let (da, db) = (a[c] as f64 - mt, b[c] as f64 - ms);
            vt += da * da;
            vs += db * db;
            cov += da * db;
        }
        if vt <= 1e-12 || vs <= 1e-12 || cov <= 0.0 {
            tint.offset[c] = (ms - mt) as f32;
            continue;
        }
        let gain = ((vs / vt).sqrt() as f32).clamp(1.0 / MAX_GAIN, MAX_GAIN);
        tint.gain[c] = gain;
        tint.offset[c] = (ms - gain as f64 * mt) as f32;
    }
    tint.gain.iter().chain(&tint.offset).all(|v| v.is_finite()).then_some(tint)
}

/// A location-matched L_feature reference (research switch `SPLATSTITCH_FEATURE_REFERENCE=field`):
/// each boundary member's own SH with its DC moved by the source's minus the target's field
/// colour at its centre, so the reference carries the seam's colour difference without another
/// place's texture. Members the two fields do not both cover keep the paper's reference.
pub fn field_reference(target: &GaussianCloud, source: &GaussianCloud, boundary: &Boundary) -> Vec<f32> {
    let mut reference = boundary.reference_sh.clone();
    let stride = target.coeffs_per_channel() * 3;
    let seam: Vec<[f32; 3]> = boundary.members.iter().map(|&m| target.positions[m as usize]).collect();
    let from_source = field_weights(source, &seam);
    let from_target = field_weights(target, &seam);
    let (s, t) = (from_source.apply(&dc_colors(source)), from_target.apply(&dc_colors(target)));
    let mut target_row = vec![usize::MAX; seam.len()];
    for (row, &i) in from_target.points.iter().enumerate() {
        target_row[i] = row;
    }
    for (row, &i) in from_source.points.iter().enumerate() {
        let Some(&tr) = target_row.get(i).filter(|&&r| r != usize::MAX) else { continue };
        let own = target.sh_of(boundary.members[i] as usize);
        let out = &mut reference[i * stride..(i + 1) * stride];
        out.copy_from_slice(own);
        for c in 0..3 {
            out[c] += (s[row][c] - t[tr][c]) / splatstitch_core::sh::SH_C0;
        }
    }
    reference
}

#[cfg(test)]
mod tests {
    use super::*;
    use splatstitch_core::sh::SH_C0;

    /// A 20 × 20 sheet of opaque Gaussians with varied colours.
    fn varied_sheet() -> GaussianCloud {
        let mut sheet = GaussianCloud::with_len(400, 0);
        for i in 0..400 {
            sheet.positions[i] = [(i % 20) as f32 * 0.02, (i / 20) as f32 * 0.02, 0.0];
            sheet.log_scales[i] = [0.02f32.ln(); 3];
            sheet.opacities[i] = 4.0;
            sheet.rotations[i] = [1.0, 0.0, 0.0, 0.0];
            for c in 0..3 {
                sheet.sh[i * 3 + c] = (((i * (c + 3) * 7919) % 97) as f32 / 97.0 - 0.5) / SH_C0 * 0.6;
            }
        }
        sheet
    }

    #[test]
    fn recovers_a_known_tint_on_a_shared_band() {
        // The target is the same sheet tinted.
        let source = varied_sheet();
        let mut target = source.clone();
        let truth = Tint { gain: [1.3, 0.8, 1.0], offset: [-0.1, 0.05, 0.1] };
        truth.apply(&mut target);
        let b = Boundary { members: (0..400).collect(), k: 4, ..Default::default() };
        let fit = fit(&target, &source, &b).unwrap();
        // The fit maps target back to source: gain ≈ 1/1.3 etc.
        for c in 0..3 {
            assert!((fit.gain[c] * truth.gain[c] - 1.0).abs() < 0.02, "{fit:?}");
            let o = -truth.offset[c] / truth.gain[c];
            assert!((fit.offset[c] - o).abs() < 0.02, "{fit:?}");
        }
    }

    #[test]
    fn field_reference_moves_each_member_by_the_local_difference() {
        let source = varied_sheet();
        let mut target = source.clone();
        Tint { gain: [1.0; 3], offset: [0.1, -0.05, 0.02] }.apply(&mut target);
        let members: Vec<u32> = (0..400).step_by(7).collect();
        let b = Boundary { reference_sh: vec![9.0; members.len() * 3], members, k: 4, ..Default::default() };
        let reference = field_reference(&target, &source, &b);
        // A uniform offset moves both fields alike: each member's reference is its untinted self,
        // its own texture kept.
        for (row, &m) in b.members.iter().enumerate() {
            for c in 0..3 {
                let (got, want) = (reference[row * 3 + c], source.sh[m as usize * 3 + c]);
                assert!((got - want).abs() < 1e-4, "member {m}: {got} vs {want}");
            }
        }
    }
}
