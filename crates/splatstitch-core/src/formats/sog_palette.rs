//! The codebooks of SOG: a 256-entry scalar codebook (scales, base colours, the SH palette's
//! entries) and the k-means palette over the higher SH bands.
//!
//! Both minimise squared error. The scalar codebook is 1-D k-means, which on sorted values is a
//! few binary searches per iteration; the palette is Lloyd's algorithm with a k-d tree over the
//! centroids answering each point's nearest (in parallel), as the reference writer does on its
//! CPU path — in native code and on every core.

use kiddo::{ImmutableKdTree, SquaredEuclidean};
use rayon::prelude::*;

/// Distance from the finite range at which ±∞ get their own codebook entries: far enough that
/// `exp` of a log-scale there is effectively 0 (or ∞), and still a finite JSON number.
const INFINITY_MARGIN: f32 = 20.0;

/// A codebook of `k` ascending values for `values` and each value's entry. ±∞ each get an end
/// entry when present; NaN maps to entry 0.
pub fn scalar_codebook(values: &[f32], k: usize) -> (Vec<f32>, Vec<u8>) {
    assert!((1..=256).contains(&k), "a codebook has 1..=256 entries");
    let mut finite: Vec<f32> = values.par_iter().copied().filter(|v| v.is_finite()).collect();
    finite.par_sort_unstable_by(f32::total_cmp);
    let has_neg_inf = values.par_iter().any(|&v| v == f32::NEG_INFINITY);
    let has_pos_inf = values.par_iter().any(|&v| v == f32::INFINITY);
    let (lo, hi) = (usize::from(has_neg_inf), usize::from(has_pos_inf));
    let inner = one_dimensional_kmeans(&finite, k.saturating_sub(lo + hi).max(1));
    let (first, last) = (finite.first().copied().unwrap_or(0.0), finite.last().copied().unwrap_or(0.0));
    let mut book = Vec::with_capacity(k);
    if has_neg_inf {
        book.push(first - INFINITY_MARGIN);
    }
    book.extend_from_slice(&inner);
    let pad = *book.last().unwrap_or(&first);
    while book.len() < k - hi {
        book.push(pad);
    }
    if has_pos_inf {
        book.push(last + INFINITY_MARGIN);
    }
    book.truncate(k);
    let labels = values.par_iter().map(|&v| nearest_entry(&book, v, has_neg_inf, has_pos_inf)).collect();
    (book, labels)
}

fn nearest_entry(book: &[f32], v: f32, has_neg_inf: bool, has_pos_inf: bool) -> u8 {
    if v.is_nan() {
        return 0;
    }
    if v == f32::NEG_INFINITY && has_neg_inf {
        return 0;
    }
    if v == f32::INFINITY && has_pos_inf {
        return (book.len() - 1) as u8;
    }
    let i = book.partition_point(|&c| c < v);
    let best = if i == 0 {
        0
    } else if i == book.len() || (v - book[i - 1]) <= (book[i] - v) {
        i - 1
    } else {
        i
    };
    best as u8
}

/// Starts for `k` centres spaced as the squared-error-optimal density of centres is at high
/// rate, ∝ p(x)^⅓: equal steps of Σ p(xᵢ)^(−⅔) over the sorted samples, with p estimated from
/// the gap spanned by a window of neighbours. Quantile starts would crowd the centres into
/// the peak of a heavy-tailed distribution (SH coefficients, log-scales), and Lloyd's
/// iterations move them out only slowly.
fn companded_starts(sorted: &[f32], k: usize) -> Vec<f64> {
    let n = sorted.len();
    let half = (n / 8192).max(8);
    let weights: Vec<f64> = (0..n)
        .map(|i| {
            let (a, b) = (i.saturating_sub(half), (i + half).min(n - 1));
            let gap = f64::from(sorted[b]) - f64::from(sorted[a]);
            // p ≈ (b − a) / (n · gap); the weight p^(−⅔) up to a constant factor.
            (gap / (b - a) as f64).powf(2.0 / 3.0)
        })
        .collect();
    let total: f64 = weights.iter().sum();
    if total.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return (0..k).map(|i| f64::from(sorted[((2 * i + 1) * n / (2 * k)).min(n - 1)])).collect();
    }
    let mut starts = Vec::with_capacity(k);
    let mut acc = 0.0;
    let mut next = 0;
    for (i, w) in weights.iter().enumerate() {
        acc += w;
        while next < k && acc >= total * (next as f64 + 0.5) / k as f64 {
            starts.push(f64::from(sorted[i]));
            next += 1;
        }
    }
    while starts.len() < k {
        starts.push(f64::from(sorted[n - 1]));
    }
    starts
}

/// The squared-error-optimal `k` centres of sorted values (a local optimum of Lloyd's algorithm
/// from quantile starts); fewer when there are fewer distinct values.
fn one_dimensional_kmeans(sorted: &[f32], k: usize) -> Vec<f32> {
    let mut distinct: Vec<f32> = Vec::new();
    for &v in sorted {
        if distinct.last() != Some(&v) {
            distinct.push(v);
            if distinct.len() > k {
                break;
            }
        }
    }
    if distinct.len() <= k {
        return distinct;
    }
    let n = sorted.len();
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0f64);
    let mut sum = 0.0f64;
    for &v in sorted {
        sum += f64::from(v);
        prefix.push(sum);
    }
    let mut centres = companded_starts(sorted, k);
    for _ in 0..300 {
        let mut start = 0usize;
        let mut moved = false;
        for i in 0..k {
            let end = if i + 1 == k {
                n
            } else {
                let edge = 0.5 * (centres[i] + centres[i + 1]);
                start + sorted[start..].partition_point(|&v| f64::from(v) <= edge)
            };
            if end > start {
                let mean = (prefix[end] - prefix[start]) / (end - start) as f64;
                moved |= mean != centres[i];
                centres[i] = mean;
            }
            start = end;
        }
        centres.sort_by(f64::total_cmp);
        if !moved {
            break;
        }
    }
    centres.into_iter().map(|c| c as f32).collect()
}

/// Lloyd's k-means of `points` (rows of `dim` values) into at most `k` centroids over
/// `iterations` rounds from `k` distinct random rows (seeded, so the same input gives the same
/// palette). Returns the centroids (rows of `dim`) and each point's centroid. With no more
/// points than `k`, every point is its own centroid.
pub fn kmeans(points: &[f32], dim: usize, k: usize, iterations: u32, seed: u64) -> (Vec<f32>, Vec<u32>) {
    assert!(dim > 0 && points.len().is_multiple_of(dim), "points are rows of `dim` values");
    let n = points.len() / dim;
    if n <= k {
        return (points.to_vec(), (0..n as u32).collect());
    }
    // In the principal axes, ordered by variance: distances are the same, but the k-d tree
    // splits its levels on the axes in turn, and SH coefficients are strongly correlated
    // across colour channels and bands, so only the leading axes separate centroids.
    let axes = PrincipalAxes::of(points, dim);
    let rotated = axes.project(points);
    // The tree's levels split the leading axes; when those hold most of the variance an exact
    // search prunes well, otherwise (noise-like data) it visits most leaves.
    let levels = ((k as f64 / 32.0).log2().ceil().max(1.0) as usize).min(dim);
    let exact_start = axes.leading_share(levels) >= EXACT_START_SHARE;
    let (centroids, labels) = match dim {
        9 => kmeans_fixed::<9>(&rotated, k, iterations, seed, exact_start),
        24 => kmeans_fixed::<24>(&rotated, k, iterations, seed, exact_start),
        45 => kmeans_fixed::<45>(&rotated, k, iterations, seed, exact_start),
        _ => kmeans_any(&rotated, dim, k, iterations, seed),
    };
    (axes.unproject(&centroids), labels)
}

/// Share of the variance on the axes the k-d tree splits at or above which the first
/// assignment is an exact search (captures' SH: 0.9 and more; noise-like data much less).
const EXACT_START_SHARE: f64 = 0.7;

/// The mean and the principal axes (rows, by falling variance) of rows of `dim` values.
struct PrincipalAxes {
    dim: usize,
    mean: Vec<f64>,
    axes: Vec<f64>,
    /// Variance along each axis, falling.
    variances: Vec<f64>,
}

impl PrincipalAxes {
    fn of(points: &[f32], dim: usize) -> Self {
        let n = (points.len() / dim).max(1) as f64;
        let mut mean = vec![0.0f64; dim];
        for row in points.chunks_exact(dim) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += f64::from(v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let cov = points
            .par_chunks(dim * 4096)
            .map(|block| {
                let mut c = vec![0.0f64; dim * dim];
                let mut d = vec![0.0f64; dim];
                for row in block.chunks_exact(dim) {
                    for ((x, &v), m) in d.iter_mut().zip(row).zip(&mean) {
                        *x = f64::from(v) - m;
                    }
                    for i in 0..dim {
                        for j in i..dim {
                            c[i * dim + j] += d[i] * d[j];
                        }
                    }
                }
                c
            })
            .reduce(|| vec![0.0f64; dim * dim], |a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect());
        let mut sym = cov;
        for i in 0..dim {
            for j in 0..i {
                sym[i * dim + j] = sym[j * dim + i];
            }
        }
        let (values, vectors) = jacobi_eigen(sym, dim);
        let mut order: Vec<usize> = (0..dim).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
        // Row r of `axes` is the r-th eigenvector (column of `vectors`).
        let axes =
            order.iter().flat_map(|&c| (0..dim).map(move |i| (i, c))).map(|(i, c)| vectors[i * dim + c]).collect();
        let variances = order.iter().map(|&c| values[c].max(0.0)).collect();
        Self { dim, mean, axes, variances }
    }

    /// Share of the variance on the first `n` axes.
    fn leading_share(&self, n: usize) -> f64 {
        let total: f64 = self.variances.iter().sum();
        if total > 0.0 { self.variances[..n.min(self.dim)].iter().sum::<f64>() / total } else { 1.0 }
    }

    fn project(&self, points: &[f32]) -> Vec<f32> {
        let d = self.dim;
        let mut out = vec![0.0f32; points.len()];
        out.par_chunks_exact_mut(d).zip(points.par_chunks_exact(d)).for_each(|(o, p)| {
            for (r, slot) in o.iter_mut().enumerate() {
                let axis = &self.axes[r * d..(r + 1) * d];
                *slot =
                    axis.iter().zip(p).zip(&self.mean).map(|((a, &v), m)| a * (f64::from(v) - m)).sum::<f64>() as f32;
            }
        });
        out
    }

    fn unproject(&self, rotated: &[f32]) -> Vec<f32> {
        let d = self.dim;
        let mut out = vec![0.0f32; rotated.len()];
        out.par_chunks_exact_mut(d).zip(rotated.par_chunks_exact(d)).for_each(|(o, y)| {
            for (i, slot) in o.iter_mut().enumerate() {
                let v: f64 = (0..d).map(|r| self.axes[r * d + i] * f64::from(y[r])).sum();
                *slot = (v + self.mean[i]) as f32;
            }
        });
        out
    }
}

/// Eigenvalues and eigenvectors (columns) of a symmetric `n × n` matrix by cyclic Jacobi
/// rotations: exact to rounding for the ≤ 45 dimensions of SH palettes.
fn jacobi_eigen(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0f64; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _ in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j].powi(2))
            .sum();
        let diag: f64 = (0..n).map(|i| a[i * n + i].powi(2)).sum();
        if off <= 1e-24 * diag.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

/// A splitmix64 stream: a small seeded generator for picking starts, enough for sampling.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// `k` distinct indices below `n` (a partial Fisher–Yates shuffle over a sparse swap map).
fn distinct_sample(n: usize, k: usize, rng: &mut SplitMix) -> Vec<usize> {
    let mut swapped = std::collections::HashMap::with_capacity(2 * k);
    (0..k)
        .map(|i| {
            let j = i + rng.below(n - i);
            let at_j = *swapped.get(&j).unwrap_or(&j);
            let at_i = *swapped.get(&i).unwrap_or(&i);
            swapped.insert(j, at_i);
            at_j
        })
        .collect()
}

/// Lloyd's rounds with approximate assignments (the leaf each point falls in, against the
/// centroid it had): a round costs a fraction of an exact one and still lowers the error, and
/// twice the rounds in less time end below the exact rounds' error on captures. The first
/// assignment is exact when `exact_start` (it decides the most).
fn kmeans_fixed<const D: usize>(
    points: &[f32],
    k: usize,
    iterations: u32,
    seed: u64,
    exact_start: bool,
) -> (Vec<f32>, Vec<u32>) {
    let rows: Vec<[f32; D]> = points.chunks_exact(D).map(|r| r.try_into().expect("row of D")).collect();
    let n = rows.len();
    let mut rng = SplitMix(seed);
    let mut centroids: Vec<[f32; D]> = distinct_sample(n, k, &mut rng).into_iter().map(|i| rows[i]).collect();
    let mut labels = vec![0u32; n];
    assign_fixed(&rows, &centroids, &mut labels, !exact_start);
    for _ in 0..iterations.max(1) {
        update(rows.as_flattened(), D, centroids.as_flattened_mut(), &labels, &mut rng);
        assign_fixed(&rows, &centroids, &mut labels, true);
    }
    (centroids.into_iter().flatten().collect(), labels)
}

/// Each row's nearest centroid. Identical centroids are collapsed first: the tree needs
/// distinct points, and only one of a set of equal centroids can win anyway.
fn assign_fixed<const D: usize>(rows: &[[f32; D]], centroids: &[[f32; D]], labels: &mut [u32], approximate: bool) {
    let mut first_of = std::collections::HashMap::with_capacity(centroids.len());
    let mut unique: Vec<[f32; D]> = Vec::with_capacity(centroids.len());
    let mut owner: Vec<u32> = Vec::with_capacity(centroids.len());
    for (i, c) in centroids.iter().enumerate() {
        let key: Vec<u32> = c.iter().map(|v| v.to_bits()).collect();
        first_of.entry(key).or_insert_with(|| {
            unique.push(*c);
            owner.push(i as u32);
        });
    }
    match ImmutableKdTree::<f32, D>::new_from_slice(&unique) {
        Ok(tree) if approximate => {
            // The leaf the point falls in, or the centroid it had, whichever is nearer: the
            // objective still falls every round.
            let found = tree.query_batch(rows).nearest_one::<SquaredEuclidean<f32>>().approx().execute();
            labels.par_iter_mut().zip(found.par_iter()).zip(rows.par_iter()).for_each(|((l, f), p)| {
                let here = &centroids[(*l as usize).min(centroids.len() - 1)];
                let d_here: f32 = p.iter().zip(here).map(|(a, b)| (a - b) * (a - b)).sum();
                if f.distance < d_here {
                    *l = owner[f.item as usize];
                }
            });
        }
        Ok(tree) => {
            let found = tree.query_batch(rows).nearest_one::<SquaredEuclidean<f32>>().execute();
            labels.par_iter_mut().zip(found.par_iter()).for_each(|(l, f)| *l = owner[f.item as usize]);
        }
        Err(_) => brute_force_assign(rows.as_flattened(), D, unique.as_flattened(), &owner, labels),
    }
}

fn brute_force_assign(points: &[f32], dim: usize, centroids: &[f32], owner: &[u32], labels: &mut [u32]) {
    labels.par_iter_mut().zip(points.par_chunks_exact(dim)).for_each(|(l, p)| {
        let mut best = (f32::INFINITY, 0usize);
        for (j, c) in centroids.chunks_exact(dim).enumerate() {
            let d: f32 = p.iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum();
            if d < best.0 {
                best = (d, j);
            }
        }
        *l = owner[best.1];
    });
}

/// Moves each centroid to the mean of its points; an empty one restarts at a random point.
fn update(points: &[f32], dim: usize, centroids: &mut [f32], labels: &[u32], rng: &mut SplitMix) {
    let k = centroids.len() / dim;
    let mut sums = vec![0.0f64; k * dim];
    let mut counts = vec![0u32; k];
    for (p, &l) in points.chunks_exact(dim).zip(labels) {
        let l = l as usize;
        counts[l] += 1;
        for (s, &v) in sums[l * dim..(l + 1) * dim].iter_mut().zip(p) {
            *s += f64::from(v);
        }
    }
    let n = labels.len();
    for (j, c) in centroids.chunks_exact_mut(dim).enumerate() {
        if counts[j] == 0 {
            let r = rng.below(n);
            c.copy_from_slice(&points[r * dim..(r + 1) * dim]);
        } else {
            let inv = 1.0 / f64::from(counts[j]);
            for (v, s) in c.iter_mut().zip(&sums[j * dim..(j + 1) * dim]) {
                *v = (s * inv) as f32;
            }
        }
    }
}

fn kmeans_any(points: &[f32], dim: usize, k: usize, iterations: u32, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let n = points.len() / dim;
    let mut rng = SplitMix(seed);
    let mut centroids: Vec<f32> = distinct_sample(n, k, &mut rng)
        .into_iter()
        .flat_map(|i| points[i * dim..(i + 1) * dim].iter().copied())
        .collect();
    let owner: Vec<u32> = (0..k as u32).collect();
    let mut labels = vec![0u32; n];
    for _ in 0..iterations.max(1) {
        brute_force_assign(points, dim, &centroids, &owner, &mut labels);
        update(points, dim, &mut centroids, &labels, &mut rng);
    }
    brute_force_assign(points, dim, &centroids, &owner, &mut labels);
    (centroids, labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_codebook_is_exact_for_few_distinct_values_and_keeps_infinities() {
        let values = [1.0, 2.0, 2.0, 3.0, f32::NEG_INFINITY, f32::INFINITY, f32::NAN];
        let (book, labels) = scalar_codebook(&values, 256);
        assert_eq!(book.len(), 256);
        assert_eq!(book[0], 1.0 - INFINITY_MARGIN);
        assert_eq!(book[255], 3.0 + INFINITY_MARGIN);
        for (v, l) in values.iter().zip(&labels).take(4) {
            assert_eq!(book[*l as usize], *v);
        }
        assert_eq!(labels[4], 0);
        assert_eq!(labels[5], 255);
        assert!(book.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn scalar_codebook_error_is_far_below_uniform_quantization() {
        // A heavy-tailed distribution, as log-scales and SH coefficients are.
        let mut rng = SplitMix(7);
        let values: Vec<f32> = (0..200_000)
            .map(|_| {
                let u = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
                ((u - 0.5).powi(3) * 8.0) as f32
            })
            .collect();
        let (book, labels) = scalar_codebook(&values, 256);
        let rms = |err: f64| (err / values.len() as f64).sqrt();
        let ours: f64 = values.iter().zip(&labels).map(|(v, l)| f64::from(v - book[*l as usize]).powi(2)).sum();
        let (lo, hi) = (-1.0f32, 1.0f32);
        let uniform: f64 = values
            .iter()
            .map(|&v| {
                let q = ((v - lo) / (hi - lo) * 255.0).round() / 255.0 * (hi - lo) + lo;
                f64::from(v - q).powi(2)
            })
            .sum();
        // At high rate the optimal quantizer of this density has 0.84 × the uniform one's RMS.
        assert!(rms(ours) < 0.85 * rms(uniform), "codebook rms {} vs uniform {}", rms(ours), rms(uniform));
    }

    #[test]
    fn kmeans_splits_separated_clusters_and_never_mixes_them() {
        // 10 well separated clusters, 40 centroids: every centroid must hold points of one
        // cluster only, and the error must be the noise's.
        let mut rng = SplitMix(3);
        let centres: Vec<[f32; 9]> =
            (0..10).map(|c| std::array::from_fn(|d| ((c * 13 + d * 7) % 97) as f32 * 10.0)).collect();
        let mut points = Vec::new();
        let mut truth = Vec::new();
        for i in 0..4000 {
            let c = i % 10;
            truth.push(c);
            for v in centres[c] {
                points.push(v + ((rng.next() % 1000) as f32 / 1000.0 - 0.5) * 0.1);
            }
        }
        let (cents, labels) = kmeans(&points, 9, 40, 10, 1);
        assert_eq!(cents.len(), 40 * 9);
        let err: f64 = points
            .chunks_exact(9)
            .zip(&labels)
            .map(|(p, &l)| {
                let c = &cents[l as usize * 9..l as usize * 9 + 9];
                p.iter().zip(c).map(|(a, b)| f64::from(a - b).powi(2)).sum::<f64>()
            })
            .sum::<f64>()
            / 4000.0;
        assert!(err < 9.0 * 0.1 * 0.1 / 12.0 * 1.01, "mean squared error {err}");
        let mut owner = std::collections::HashMap::new();
        for (l, t) in labels.iter().zip(&truth) {
            assert_eq!(*owner.entry(*l).or_insert(*t), *t, "centroid {l} mixes clusters");
        }
    }

    #[test]
    fn exact_tree_assignment_equals_brute_force_and_approximate_never_worsens() {
        let mut rng = SplitMix(11);
        let rows: Vec<[f32; 24]> =
            (0..3000).map(|_| std::array::from_fn(|_| (rng.next() % 10_000) as f32 / 10_000.0)).collect();
        let centroids: Vec<[f32; 24]> = rows.iter().step_by(40).copied().collect();
        let owner: Vec<u32> = (0..centroids.len() as u32).collect();
        let mut tree = vec![0u32; rows.len()];
        assign_fixed(&rows, &centroids, &mut tree, false);
        let mut brute = vec![0u32; rows.len()];
        brute_force_assign(rows.as_flattened(), 24, centroids.as_flattened(), &owner, &mut brute);
        assert_eq!(tree, brute);
        let dist = |p: &[f32; 24], l: u32| -> f32 {
            p.iter().zip(&centroids[l as usize]).map(|(a, b)| (a - b) * (a - b)).sum()
        };
        let start: Vec<u32> = (0..rows.len() as u32).map(|i| i % centroids.len() as u32).collect();
        let mut approx = start.clone();
        assign_fixed(&rows, &centroids, &mut approx, true);
        for (i, p) in rows.iter().enumerate() {
            assert!(dist(p, approx[i]) <= dist(p, start[i]));
            assert!(dist(p, approx[i]) >= dist(p, tree[i]));
        }
    }

    #[test]
    fn principal_axes_diagonalise_and_round_trip() {
        let mut rng = SplitMix(5);
        let points: Vec<f32> = (0..2000)
            .flat_map(|_| {
                let a = (rng.next() % 1000) as f32 / 100.0;
                let b = (rng.next() % 1000) as f32 / 1000.0;
                [a + b, a - b, 0.5 * a, b]
            })
            .collect();
        let axes = PrincipalAxes::of(&points, 4);
        let y = axes.project(&points);
        let var = |d: usize| y.chunks_exact(4).map(|r| f64::from(r[d]).powi(2)).sum::<f64>();
        assert!(var(0) > var(1) && var(1) >= var(2) && var(2) >= var(3) - 1e-3);
        for (a, b) in axes.unproject(&y).iter().zip(&points) {
            assert!((a - b).abs() < 1e-4);
        }
    }

    #[test]
    fn kmeans_with_duplicate_points_does_not_fail() {
        let points = vec![0.0f32; 500 * 9];
        let (c, l) = kmeans(&points, 9, 16, 5, 2);
        assert_eq!(c.len(), 16 * 9);
        assert!(l.iter().all(|&x| x < 16));
    }
}
