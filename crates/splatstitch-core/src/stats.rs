//! Summary statistics of a cloud, as `splatstitch info` shows them.

use crate::cloud::{GaussianCloud, sigmoid};

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    pub min: f32,
    pub max: f32,
    pub mean: f32,
    pub median: f32,
}

impl Summary {
    /// `None` for no values.
    pub fn of(mut values: Vec<f32>) -> Option<Summary> {
        values.retain(|v| v.is_finite());
        if values.is_empty() {
            return None;
        }
        let mean = (values.iter().map(|v| *v as f64).sum::<f64>() / values.len() as f64) as f32;
        let mid = values.len() / 2;
        let (_, median, _) = values.select_nth_unstable_by(mid, f32::total_cmp);
        let median = *median;
        let (min, max) = values.iter().fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        Some(Summary { min, max, mean, median })
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CloudStats {
    pub count: usize,
    pub sh_degree: u8,
    pub bbox_min: Option<[f32; 3]>,
    pub bbox_max: Option<[f32; 3]>,
    /// Opacity after the sigmoid, in [0, 1].
    pub opacity: Option<Summary>,
    /// Linear scale (`exp` of the stored log-scale) over all three axes.
    pub scale: Option<Summary>,
    pub has_normals: bool,
    pub extra_properties: Vec<String>,
}

impl CloudStats {
    pub fn of(cloud: &GaussianCloud) -> CloudStats {
        let (mut lo, mut hi) = ([f32::MAX; 3], [f32::MIN; 3]);
        for p in &cloud.positions {
            for c in 0..3 {
                if p[c].is_finite() {
                    lo[c] = lo[c].min(p[c]);
                    hi[c] = hi[c].max(p[c]);
                }
            }
        }
        let has_box = lo[0] <= hi[0];
        CloudStats {
            count: cloud.len(),
            sh_degree: cloud.sh_degree,
            bbox_min: has_box.then_some(lo),
            bbox_max: has_box.then_some(hi),
            opacity: Summary::of(cloud.opacities.iter().map(|o| sigmoid(*o)).collect()),
            scale: Summary::of(cloud.log_scales.iter().flatten().map(|s| s.exp()).collect()),
            has_normals: cloud.normals.is_some(),
            extra_properties: cloud.extras.iter().map(|e| format!("{} ({})", e.name, e.kind.ply_name())).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_small_set() {
        let s = Summary::of(vec![3.0, 1.0, 2.0, f32::NAN]).unwrap();
        assert_eq!((s.min, s.max, s.median), (1.0, 3.0, 2.0));
        assert!((s.mean - 2.0).abs() < 1e-6);
        assert!(Summary::of(vec![]).is_none());
    }
}
