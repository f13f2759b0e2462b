//! Sums of consecutive runs ("segments") of rows, built from gathers and dense sums only.
//!
//! A sparse render is a scatter-add, and so is the backward of every gather. burn-wgpu 0.22's
//! `select_assign` walks the indexed axis serially in each thread (three threads for an RGB
//! image) and returns wrong sums past 65,535 rows, so on a GPU the optimizer never scatters:
//! each segment sum becomes a few levels of "gather `WIDTH` rows, sum them".

use burn::tensor::{Device, Int, Tensor, TensorData};

/// Rows summed per gather at each level.
pub const WIDTH: usize = 16;

/// The gather plan for one segmentation, held as index tensors on a device.
#[derive(Clone)]
pub struct SegmentSum {
    /// Per level: `rows × WIDTH` indices into the previous level's values (plus one zero row at
    /// the end), and `rows`.
    levels: Vec<(Tensor<1, Int>, usize)>,
    /// Per segment: its row in the last level, or that level's zero row when it is empty.
    last: Tensor<1, Int>,
    segments: usize,
}

/// The plan's indices on the CPU: `(levels, last)`, for tests and sizing.
pub fn plan(segment_of: &[u32], segments: usize) -> (Vec<(Vec<i64>, usize)>, Vec<i64>) {
    // `owner[i]`: the segment of item i at the current level; items of a segment are adjacent.
    let mut owner: Vec<u32> = segment_of.to_vec();
    debug_assert!(owner.windows(2).all(|w| w[0] <= w[1]), "items sorted by segment");
    let mut levels = Vec::new();
    loop {
        let many = owner.windows(2).any(|w| w[0] == w[1]);
        if !many {
            break;
        }
        let zero = owner.len() as i64;
        let (mut idx, mut next) = (Vec::new(), Vec::new());
        let mut i = 0;
        while i < owner.len() {
            let s = owner[i];
            let mut j = i;
            while j < owner.len() && owner[j] == s {
                j += 1;
            }
            for chunk_start in (i..j).step_by(WIDTH) {
                let end = (chunk_start + WIDTH).min(j);
                idx.extend((chunk_start..end).map(|x| x as i64));
                idx.extend(std::iter::repeat_n(zero, WIDTH - (end - chunk_start)));
                next.push(s);
            }
            i = j;
        }
        levels.push((idx, next.len()));
        owner = next;
    }
    let zero = owner.len() as i64;
    let mut last = vec![zero; segments];
    for (row, &s) in owner.iter().enumerate() {
        last[s as usize] = row as i64;
    }
    (levels, last)
}

fn ints(v: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

impl SegmentSum {
    /// `segment_of[i]` is the segment of value row i, non-decreasing; `segments` segments in all.
    pub fn new(segment_of: &[u32], segments: usize, device: &Device) -> Self {
        let (levels, last) = plan(segment_of, segments);
        SegmentSum {
            levels: levels.into_iter().map(|(idx, rows)| (ints(idx, device), rows)).collect(),
            last: ints(last, device),
            segments,
        }
    }

    /// Sums `values` (`rows × C`) per segment into `segments × C`.
    pub fn apply(&self, values: Tensor<2>) -> Tensor<2> {
        let [_, c] = values.dims();
        let device = values.device();
        let with_zero = |v: Tensor<2>| Tensor::cat(vec![v, Tensor::zeros([1, c], &device)], 0);
        let mut v = with_zero(values);
        for (idx, rows) in &self.levels {
            let summed: Tensor<3> = v.select(0, idx.clone()).reshape([*rows, WIDTH, c]).sum_dim(1);
            v = with_zero(summed.reshape([*rows, c]));
        }
        v.select(0, self.last.clone()).reshape([self.segments, c])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_match_a_plain_loop() {
        let device = Device::flex();
        // Segment sizes 0, 1, 3, 40, 0, 300 (deeper than one level), 2.
        let sizes = [0usize, 1, 3, 40, 0, 300, 2];
        let segment_of: Vec<u32> =
            sizes.iter().enumerate().flat_map(|(s, &n)| std::iter::repeat_n(s as u32, n)).collect();
        let values: Vec<f32> = (0..segment_of.len() * 2).map(|i| ((i * 37) % 11) as f32 - 5.0).collect();
        let sum = SegmentSum::new(&segment_of, sizes.len(), &device);
        let got = sum
            .apply(Tensor::from_data(TensorData::new(values.clone(), [segment_of.len(), 2]), &device))
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let mut want = vec![0.0f32; sizes.len() * 2];
        for (i, &s) in segment_of.iter().enumerate() {
            want[s as usize * 2] += values[i * 2];
            want[s as usize * 2 + 1] += values[i * 2 + 1];
        }
        assert_eq!(got, want);
        assert_eq!(plan(&segment_of, sizes.len()).0.len(), 3, "300 rows take three levels of 16");
    }
}
