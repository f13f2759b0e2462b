//! Step 1 of the method: load every layer of a job, crop it (in its file's coordinates) and
//! bake its transform into world space.

use crate::job::{Job, JobError, LayerSpec};
use crate::params::SizeMeasure;
use glam::Vec3;
use splatstitch_core::formats::{self, LoadOptions};
use splatstitch_core::transform::in_box;
use splatstitch_core::{GaussianCloud, Role};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;

/// Fraction of the centres left out below and above on each axis by [`Composite::robust_bounds`].
pub const ROBUST_TAIL: f32 = 0.01;

/// One layer of the composite, in world space.
#[derive(Debug, Clone)]
pub struct ComposedLayer {
    pub name: String,
    pub role: Role,
    pub cloud: GaussianCloud,
    /// Gaussians in the file, before cropping.
    pub loaded: usize,
}

/// All layers of a job, in job order.
#[derive(Debug, Clone)]
pub struct Composite {
    pub layers: Vec<ComposedLayer>,
}

/// The cloud with its SH raised to `degree` (higher bands zero) or cut down to it.
pub fn with_sh_degree(cloud: &GaussianCloud, degree: u8) -> GaussianCloud {
    if degree <= cloud.sh_degree {
        let mut c = cloud.clone();
        c.truncate_sh_degree(degree);
        return c;
    }
    let (old, new) = (cloud.coeffs_per_channel() * 3, splatstitch_core::sh::coeff_count(degree) * 3);
    let mut c = cloud.clone();
    c.sh = Vec::with_capacity(cloud.len() * new);
    for block in cloud.sh.chunks_exact(old) {
        c.sh.extend_from_slice(block);
        c.sh.extend(std::iter::repeat_n(0.0, new - old));
    }
    c.sh_degree = degree;
    c
}

impl Composite {
    pub fn load(job: &Job) -> Result<Composite, JobError> {
        let mut layers = Vec::with_capacity(job.spec.layers.len());
        // Layers cut from one capture decode it once; it is kept only until its last layer.
        let file_of = |spec: &LayerSpec| (job.resolve(&spec.file), spec.lod);
        let mut uses: HashMap<(PathBuf, Option<u32>), usize> = HashMap::new();
        for spec in &job.spec.layers {
            *uses.entry(file_of(spec)).or_default() += 1;
        }
        let mut decoded: HashMap<(PathBuf, Option<u32>), GaussianCloud> = HashMap::new();
        for (i, spec) in job.spec.layers.iter().enumerate() {
            let file = file_of(spec);
            let full = match decoded.remove(&file) {
                Some(c) => c,
                None => {
                    let opts = LoadOptions { lod: spec.lod, ..Default::default() };
                    let key = if spec.lod.is_some() { "lod" } else { "file" };
                    formats::load(&file.0, &opts)
                        .map_err(|e| job.layer_error(i, key, format!("layer `{}`: {e}", spec.name)))?
                        .cloud
                }
            };
            let count = full.len();
            let keep = uses.get_mut(&file).is_some_and(|n| {
                *n -= 1;
                *n > 0
            });
            let (mut cloud, rest) = match (&spec.crop, keep) {
                (Some(c), _) => (full.select(&in_box(&full, c.box_min.into(), c.box_max.into())), keep.then_some(full)),
                (None, true) => (full.clone(), Some(full)),
                (None, false) => (full, None),
            };
            if let Some(f) = rest {
                decoded.insert(file, f);
            }
            if let Some(g) = &spec.grade {
                g.apply(&mut cloud, |_| 1.0);
            }
            if let Some(t) = &spec.transform {
                t.similarity().bake(&mut cloud);
            }
            if cloud.is_empty() {
                return Err(job.layer_error(
                    i,
                    "crop",
                    format!("layer `{}` has no Gaussians left after cropping", spec.name),
                ));
            }
            layers.push(ComposedLayer { name: spec.name.clone(), role: spec.role, cloud, loaded: count });
        }
        Ok(Composite { layers })
    }

    pub fn target_index(&self) -> usize {
        self.layers.iter().position(|l| l.role == Role::Target).expect("validated jobs have one target")
    }

    pub fn target(&self) -> &ComposedLayer {
        &self.layers[self.target_index()]
    }

    /// All source layers merged into one cloud (SH at the target's degree), the appearance donor.
    /// A single source layer at that degree is borrowed, not copied: with millions of Gaussians
    /// the copy would be the stitch's largest allocation.
    pub fn sources(&self) -> Cow<'_, GaussianCloud> {
        let degree = self.target().cloud.sh_degree;
        let mut sources = self.layers.iter().filter(|l| l.role == Role::Source);
        if let (Some(only), None) = (sources.next(), sources.next())
            && only.cloud.sh_degree == degree
        {
            return Cow::Borrowed(&only.cloud);
        }
        let mut out = GaussianCloud::new(degree);
        for l in self.layers.iter().filter(|l| l.role == Role::Source) {
            let mut c = with_sh_degree(&l.cloud, degree);
            c.extras.clear();
            c.normals = None;
            out.append(&c);
        }
        Cow::Owned(out)
    }

    /// Bounding box of every layer's centres.
    pub fn bounds(&self) -> (Vec3, Vec3) {
        self.layers
            .iter()
            .filter_map(|l| l.cloud.bounds())
            .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
            .unwrap_or((Vec3::ZERO, Vec3::ZERO))
    }

    /// L of docs/ARCHITECTURE.md §5: the diagonal of the composite's bounding box.
    pub fn diagonal(&self) -> f32 {
        let (lo, hi) = self.bounds();
        (hi - lo).length()
    }

    /// The box holding all but [`ROBUST_TAIL`] of the centres below and above on each axis:
    /// the composite without its floaters (real captures have a few far from everything).
    pub fn robust_bounds(&self) -> (Vec3, Vec3) {
        let mut axes: [Vec<f32>; 3] = Default::default();
        for l in &self.layers {
            for p in l.cloud.positions.iter().filter(|p| p.iter().all(|v| v.is_finite())) {
                for (a, v) in axes.iter_mut().zip(p) {
                    a.push(*v);
                }
            }
        }
        if axes[0].is_empty() {
            return (Vec3::ZERO, Vec3::ZERO);
        }
        let (mut lo, mut hi) = (Vec3::ZERO, Vec3::ZERO);
        for (k, a) in axes.iter_mut().enumerate() {
            let n = a.len();
            let at = |a: &mut Vec<f32>, q: f32| {
                let i = ((q * (n - 1) as f32).round() as usize).min(n - 1);
                *a.select_nth_unstable_by(i, |x, y| x.total_cmp(y)).1
            };
            lo[k] = at(a, ROBUST_TAIL);
            hi[k] = at(a, 1.0 - ROBUST_TAIL);
        }
        (lo, hi)
    }

    /// L as the job measures it.
    pub fn size(&self, measure: SizeMeasure) -> f32 {
        match measure {
            SizeMeasure::Diagonal => self.diagonal(),
            SizeMeasure::RobustDiagonal => {
                let (lo, hi) = self.robust_bounds();
                (hi - lo).length()
            }
        }
    }

    /// The whole composite as one cloud: layers in job order, each in file order minus cropped
    /// Gaussians, SH raised to the highest degree present (extra bands zero). Extra properties
    /// survive only when every layer has the same ones.
    pub fn to_cloud(&self) -> GaussianCloud {
        concatenate(&self.layers.iter().map(|l| &l.cloud).collect::<Vec<_>>())
    }
}

/// The clouds as one, at the highest SH degree among them (higher bands of the others zero).
pub fn concatenate(clouds: &[&GaussianCloud]) -> GaussianCloud {
    let degree = clouds.iter().map(|c| c.sh_degree).max().unwrap_or(0);
    let mut out: Option<GaussianCloud> = None;
    for c in clouds {
        match &mut out {
            // The first at the right degree is moved in rather than copied twice.
            None => out = Some(with_sh_degree(c, degree)),
            Some(o) if c.sh_degree == degree => o.append(c),
            Some(o) => o.append(&with_sh_degree(c, degree)),
        }
    }
    out.unwrap_or_else(|| GaussianCloud::new(degree))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_sh_degree_pads_with_zeros_and_keeps_values() {
        let mut c = GaussianCloud::with_len(2, 1);
        for (i, v) in c.sh.iter_mut().enumerate() {
            *v = i as f32;
        }
        let up = with_sh_degree(&c, 3);
        assert_eq!(up.sh.len(), 2 * 48);
        assert_eq!(&up.sh[..12], &c.sh[..12]);
        assert!(up.sh[12..48].iter().all(|v| *v == 0.0));
        assert_eq!(&up.sh[48..60], &c.sh[12..24]);
        assert_eq!(with_sh_degree(&up, 1), c);
    }

    #[test]
    fn concatenated_clouds_keep_their_order_at_the_highest_degree() {
        let mut low = GaussianCloud::with_len(3, 0);
        let mut high = GaussianCloud::with_len(2, 2);
        for (i, v) in low.sh.iter_mut().enumerate() {
            *v = 1.0 + i as f32;
        }
        for (i, v) in high.sh.iter_mut().enumerate() {
            *v = -1.0 - i as f32;
        }
        low.positions[2] = [7.0, 0.0, 0.0];
        high.positions[0] = [8.0, 0.0, 0.0];
        let all = concatenate(&[&low, &high]);
        assert_eq!((all.len(), all.sh_degree), (5, 2));
        assert_eq!((all.positions[2], all.positions[3]), ([7.0, 0.0, 0.0], [8.0, 0.0, 0.0]));
        assert_eq!(&all.sh[..3], &low.sh[..3]);
        assert!(all.sh[3..27].iter().all(|v| *v == 0.0), "higher bands of the SH0 cloud are zero");
        assert_eq!(&all.sh[3 * 27..], &high.sh[..]);
        assert_eq!(concatenate(&[]).len(), 0);
    }

    #[test]
    fn a_layer_reads_the_level_of_detail_its_lod_key_names() {
        use splatstitch_core::formats::{self, SaveOptions};
        let dir = tempfile::tempdir().unwrap();
        for (folder, n) in [("0_0", 60), ("1_0", 15)] {
            std::fs::create_dir(dir.path().join(folder)).unwrap();
            let mut c = GaussianCloud::with_len(n, 0);
            for (i, p) in c.positions.iter_mut().enumerate() {
                *p = [i as f32 * 0.1, 0.0, 1.0];
            }
            formats::save(&dir.path().join(folder).join("meta.json"), &c, &SaveOptions::default()).unwrap();
        }
        let manifest = r#"{"version":1,"counts":[60,15],"lodLevels":2,"filenames":["0_0/meta.json","1_0/meta.json"],
            "tree":{"lods":{"0":{"file":0,"offset":0,"count":60},"1":{"file":1,"offset":0,"count":15}}}}"#;
        std::fs::write(dir.path().join("lod-meta.json"), manifest).unwrap();
        let job = |lod: &str| {
            format!(
                "[[layer]]\nname = \"a\"\nfile = \"lod-meta.json\"\nrole = \"source\"\n{lod}\n\
                 [[layer]]\nname = \"b\"\nfile = \"lod-meta.json\"\nrole = \"target\"\nlod = 1\n\
                 [output]\nply = \"out.ply\"\n"
            )
        };
        let path = dir.path().join("job.toml");
        let composite = Composite::load(&Job::parse(&path, &job("")).unwrap()).unwrap();
        assert_eq!(composite.layers.iter().map(|l| l.cloud.len()).collect::<Vec<_>>(), vec![60, 15]);
        let err = Composite::load(&Job::parse(&path, &job("lod = 5")).unwrap()).unwrap_err().to_string();
        assert!(err.contains("level 5 does not exist"), "{err}");
    }

    #[test]
    fn a_layer_grade_is_applied_when_the_job_is_composed() {
        use splatstitch_core::formats::{self, SaveOptions};
        let dir = tempfile::tempdir().unwrap();
        let mut c = GaussianCloud::with_len(4, 1);
        for (i, p) in c.positions.iter_mut().enumerate() {
            *p = [i as f32, 0.0, 1.0];
        }
        formats::save(&dir.path().join("a.ply"), &c, &SaveOptions::default()).unwrap();
        let text = "[[layer]]\nname = \"a\"\nfile = \"a.ply\"\nrole = \"source\"\n\
                    [[layer]]\nname = \"b\"\nfile = \"a.ply\"\nrole = \"target\"\ngrade = { exposure = 1.0 }\n\
                    [output]\nply = \"out.ply\"\n";
        let composite = Composite::load(&Job::parse(&dir.path().join("job.toml"), text).unwrap()).unwrap();
        // SH zero: colour 0.5, one stop brighter is 1.0; the ungraded layer stays at 0.5.
        assert_eq!(composite.layers[0].cloud.base_colour(0), [0.5; 3]);
        assert!(composite.layers[1].cloud.base_colour(3).iter().all(|v| (v - 1.0).abs() < 1e-5));
    }
}
