//! Step 2 of the method: the seam. A target Gaussian belongs to the boundary ∂B when the mean
//! distance to its K nearest source Gaussians is below β·L and its opacity exceeds τ; its
//! reference appearance is the mean SH of those neighbours.

pub use crate::centres::CentreIndex;
use rayon::prelude::*;
use splatstitch_core::GaussianCloud;
use splatstitch_core::cloud::sigmoid;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundaryParams {
    pub k: usize,
    pub beta: f32,
    pub tau: f32,
}

/// ∂B and what the optimizer needs about it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Boundary {
    /// Target indices in ∂B, ascending.
    pub members: Vec<u32>,
    /// K source indices per member, nearest first.
    pub neighbours: Vec<u32>,
    /// Mean distance to the K neighbours, per member.
    pub mean_distance: Vec<f32>,
    /// Mean SH of the K neighbours per member, in the target's `K × 3` layout.
    pub reference_sh: Vec<f32>,
    pub k: usize,
}

impl Boundary {
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// Neighbours averaged for the coarse colours of [`Boundary::field_reference`].
pub const SMOOTH_K: usize = 64;

/// Finds ∂B of `target` against `source` (both in world space, same SH degree); `diagonal` is L.
pub fn find_boundary(target: &GaussianCloud, source: &GaussianCloud, p: BoundaryParams, diagonal: f32) -> Boundary {
    find_boundary_adaptive(target, source, p, diagonal, 0).0
}

/// How τ was lowered because it left too few seam Gaussians.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct TauAdaptation {
    /// τ as asked, and the seam Gaussians it left.
    pub tau_asked: f32,
    pub found: usize,
    /// Target Gaussians within β·L of the source, whatever their opacity.
    pub overlap: usize,
    /// τ as used: the opacity quantile `quantile` of the overlap.
    pub tau_used: f32,
    pub quantile: f32,
}

/// [`find_boundary`], lowering τ when it leaves fewer than `min_members` seam Gaussians: to the
/// opacity quantile of the overlap (every target Gaussian within β·L) that keeps `min_members`
/// (or the whole overlap when it is smaller). `min_members = 0` never adapts.
pub fn find_boundary_adaptive(
    target: &GaussianCloud,
    source: &GaussianCloud,
    p: BoundaryParams,
    diagonal: f32,
    min_members: usize,
) -> (Boundary, Option<TauAdaptation>) {
    let Some(index) = CentreIndex::new(source) else { return (Boundary { k: p.k, ..Default::default() }, None) };
    let limit = p.beta * diagonal;
    let stride = target.coeffs_per_channel() * 3;
    assert_eq!(source.sh_degree, target.sh_degree, "source SH must be at the target's degree");
    // Per target Gaussian within β·L of the source: its neighbours and their mean distance.
    type Found = Option<(Vec<(u32, f32)>, f32)>;
    let found: Vec<Found> = (0..target.len())
        .into_par_iter()
        .map(|i| {
            if !target.positions[i].iter().all(|v| v.is_finite()) {
                return None;
            }
            let nn = index.nearest(&target.positions[i], p.k);
            let mean = nn.iter().map(|n| n.1).sum::<f32>() / nn.len() as f32;
            (mean < limit).then_some((nn, mean))
        })
        .collect();
    let opacity = |i: usize| sigmoid(target.opacities[i]);
    let overlap: Vec<usize> = (0..target.len()).filter(|&i| found[i].is_some()).collect();
    let count_above = |tau: f32| overlap.iter().filter(|&&i| opacity(i) > tau).count();
    let at_asked = count_above(p.tau);
    let mut tau = p.tau;
    let mut adaptation = None;
    if at_asked < min_members && overlap.len() > at_asked {
        let mut opacities: Vec<f32> = overlap.iter().map(|&i| opacity(i)).collect();
        opacities.sort_unstable_by(|a, b| b.total_cmp(a));
        let keep = min_members.min(opacities.len());
        // Just below the keep-th largest opacity, so that it is kept.
        tau = (opacities[keep - 1] - 1e-6).max(0.0);
        adaptation = Some(TauAdaptation {
            tau_asked: p.tau,
            found: at_asked,
            overlap: overlap.len(),
            tau_used: tau,
            quantile: 1.0 - keep as f32 / opacities.len() as f32,
        });
    }
    let mut b = Boundary { k: p.k.min(source.len()), ..Default::default() };
    for (i, f) in found.into_iter().enumerate() {
        let Some((nn, mean)) = f else { continue };
        if opacity(i) <= tau {
            continue;
        }
        b.members.push(i as u32);
        b.mean_distance.push(mean);
        let start = b.reference_sh.len();
        b.reference_sh.extend(std::iter::repeat_n(0.0, stride));
        for (j, _) in &nn {
            b.neighbours.push(*j);
            for (acc, v) in b.reference_sh[start..].iter_mut().zip(source.sh_of(*j as usize)) {
                *acc += v / nn.len() as f32;
            }
        }
    }
    (b, adaptation)
}

impl Boundary {
    /// L_feature's location-matched references (`feature_reference = "field"`): each member's
    /// own SH with its DC moved by the difference of the source's and the target's colour around
    /// its centre at a coarse scale ([`SMOOTH_K`] neighbours each): the seam's low-frequency
    /// colour difference, the member's own texture kept. Members the source does not reach keep
    /// the neighbours' mean.
    pub fn field_reference(&self, target: &GaussianCloud, source: &GaussianCloud) -> Vec<f32> {
        use crate::field::local_means;
        let mut reference = self.reference_sh.clone();
        let stride = target.coeffs_per_channel() * 3;
        let seam: Vec<[f32; 3]> = self.members.iter().map(|&m| target.positions[m as usize]).collect();
        let (s, t) = (local_means(source, &seam, SMOOTH_K), local_means(target, &seam, SMOOTH_K));
        for (i, (s, t)) in s.iter().zip(&t).enumerate() {
            let (Some(s), Some(t)) = (s, t) else { continue };
            let out = &mut reference[i * stride..(i + 1) * stride];
            out.copy_from_slice(target.sh_of(self.members[i] as usize));
            for c in 0..3 {
                out[c] += (s[c] - t[c]) / splatstitch_core::sh::SH_C0;
            }
        }
        reference
    }
}

/// Each target Gaussian's distance to the nearest source centre (infinity without a source).
pub fn nearest_source_distance(target: &GaussianCloud, source: &GaussianCloud) -> Vec<f32> {
    let Some(index) = CentreIndex::new(source) else { return vec![f32::INFINITY; target.len()] };
    target.positions.par_iter().map(|p| index.nearest(p, 1).first().map_or(f32::INFINITY, |n| n.1)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: usize, x0: f32, opacity: f32, dc: f32) -> GaussianCloud {
        let mut c = GaussianCloud::with_len(n, 0);
        for i in 0..n {
            c.positions[i] = [x0 + i as f32 * 0.01, 0.0, 0.0];
            c.opacities[i] = opacity;
            c.sh[i * 3] = dc;
        }
        c
    }

    #[test]
    fn only_near_opaque_target_gaussians_join_the_boundary() {
        let source = line(100, 0.0, 5.0, 1.0); // x in [0, 0.99]
        let mut target = line(100, 0.95, 5.0, -1.0); // x in [0.95, 1.94]: overlaps at the start
        target.opacities[0] = -5.0; // transparent: never in ∂B
        let b = find_boundary(&target, &source, BoundaryParams { k: 4, beta: 0.05, tau: 0.95 }, 2.0);
        assert!(!b.members.contains(&0));
        assert!(b.members.contains(&1) && b.members.contains(&5));
        assert_eq!(b.members, (1..=12).collect::<Vec<u32>>());
        assert_eq!(b.neighbours.len(), b.len() * 4);
        assert!(b.reference_sh.iter().step_by(3).all(|v| (*v - 1.0).abs() < 1e-6));
        // Too few at τ: lowered to keep up to 20 of the overlap (all 13 here, the faint one too).
        let mut faint = target.clone();
        for o in faint.opacities.iter_mut().skip(3) {
            *o = 1.0;
        }
        let p = BoundaryParams { k: 4, beta: 0.05, tau: 0.95 };
        let (b, adapted) = find_boundary_adaptive(&faint, &source, p, 2.0, 20);
        let a = adapted.expect("adapted");
        assert_eq!((a.found, a.overlap), (2, 13), "{a:?}");
        assert_eq!(b.len(), 13);
        assert!(a.tau_used < 0.74);
        assert!(find_boundary_adaptive(&faint, &source, p, 2.0, 0).1.is_none());
        // Far apart: no boundary at all.
        let far = line(10, 50.0, 5.0, 0.0);
        assert!(find_boundary(&far, &source, BoundaryParams { k: 4, beta: 0.05, tau: 0.95 }, 2.0).is_empty());
    }
}
