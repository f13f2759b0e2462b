//! What the editor edits: layers (a loaded capture plus its non-destructive edits) and the job
//! settings. Saved and opened as the stitching engine's job file, so a scene prepared by hand
//! re-runs headless with `splatstitch stitch`.

use splatstitch_core::formats::{self, LoadOptions, SaveOptions};
use splatstitch_core::transform::crop_to_box;
use splatstitch_core::{GaussianCloud, Grade, LayerFlags, Role};
use splatstitch_stitch::compose::with_sh_degree;
use splatstitch_stitch::job::{BlendSpec, CropSpec, JobFile, LayerSpec, OutputSpec, TransformSpec};
use splatstitch_stitch::{Job, JobError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("{0}")]
    Job(#[from] JobError),
    #[error("{}: {error}", path.display())]
    Load { path: PathBuf, error: String },
    #[error("{}: {error}", path.display())]
    Save { path: PathBuf, error: String },
    #[error("{} is an input capture of this scene; choose another file", .0.display())]
    WouldOverwriteInput(PathBuf),
    #[error("nothing to export: the scene has no layers")]
    Empty,
}

/// A whole-layer grade: the grade, the cloud it was applied to and what it gave.
#[derive(Debug, Clone)]
pub struct LayerGrade {
    pub grade: Grade,
    pub input: Arc<GaussianCloud>,
    pub output: Arc<GaussianCloud>,
}

/// One layer: the capture as loaded (and cropped), and the edits on top.
#[derive(Debug, Clone)]
pub struct DocLayer {
    pub name: String,
    /// Absolute path of the capture.
    pub file: PathBuf,
    pub role: Role,
    pub crop: Option<CropSpec>,
    pub transform: TransformSpec,
    /// The level read from a streamed SOG (`None`: the finest, or not a streamed SOG).
    pub lod: Option<u32>,
    pub visible: bool,
    pub cloud: Arc<GaussianCloud>,
    /// Per-Gaussian selected / hidden / deleted bits (edits replace the whole vector, so undo
    /// keeps the old one).
    pub flags: Arc<Vec<LayerFlags>>,
    /// The cloud as loaded from `file`; when `cloud` is another one (a stitch result) or the
    /// layer was cut from another (`derived`), saving writes the layer's own PLY.
    pub original: Arc<GaussianCloud>,
    pub derived: bool,
    /// The last whole-layer grade. While `cloud` is its output and its input is `original`,
    /// the job keeps the capture file and writes the grade as the layer's `grade` key.
    pub grade: Option<LayerGrade>,
}

impl DocLayer {
    pub fn new(name: String, file: PathBuf, role: Role, cloud: GaussianCloud) -> Self {
        let n = cloud.len();
        let cloud = Arc::new(cloud);
        DocLayer {
            name,
            file,
            role,
            crop: None,
            transform: TransformSpec::default(),
            lod: None,
            visible: true,
            original: cloud.clone(),
            cloud,
            flags: Arc::new(vec![LayerFlags::default(); n]),
            derived: false,
            grade: None,
        }
    }

    /// A layer loaded from its capture with a whole-layer grade applied (a job's `grade` key).
    pub fn graded(mut self, grade: Grade) -> Self {
        if !grade.is_identity() {
            let mut c = (*self.original).clone();
            grade.apply(&mut c, |_| 1.0);
            self.cloud = Arc::new(c);
            self.grade = Some(LayerGrade { grade, input: self.original.clone(), output: self.cloud.clone() });
        }
        self
    }

    /// The whole-layer grade shown now (the identity once another edit replaced its result).
    pub fn active_grade(&self) -> Grade {
        self.grade.as_ref().filter(|g| Arc::ptr_eq(&g.output, &self.cloud)).map(|g| g.grade).unwrap_or_default()
    }

    /// What a new whole-layer grade applies to: the input of the active one, else the cloud.
    pub fn grade_base(&self) -> Arc<GaussianCloud> {
        match &self.grade {
            Some(g) if Arc::ptr_eq(&g.output, &self.cloud) => g.input.clone(),
            _ => self.cloud.clone(),
        }
    }

    /// The grade key the job can carry: the active grade when it applies to the capture as
    /// loaded.
    fn grade_key(&self) -> Option<Grade> {
        self.grade
            .as_ref()
            .filter(|g| Arc::ptr_eq(&g.output, &self.cloud) && Arc::ptr_eq(&g.input, &self.original))
            .map(|g| g.grade)
    }

    /// True when the capture file (with the grade key) no longer describes this layer.
    pub fn needs_own_file(&self) -> bool {
        let described = Arc::ptr_eq(&self.cloud, &self.original) || self.grade_key().is_some();
        self.derived || !described || self.count(LayerFlags::DELETED) > 0
    }

    /// The layer's Gaussians minus deleted ones, in its own frame.
    pub fn kept(&self) -> GaussianCloud {
        let keep: Vec<bool> = self.flags.iter().map(|f| !f.has(LayerFlags::DELETED)).collect();
        if keep.iter().all(|k| *k) { (*self.cloud).clone() } else { self.cloud.select(&keep) }
    }

    pub fn count(&self, bit: u8) -> usize {
        self.flags.iter().filter(|f| f.has(bit)).count()
    }

    pub fn len(&self) -> usize {
        self.cloud.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cloud.is_empty()
    }
}

/// Loads a capture and applies a crop (file coordinates), as the job runner does.
pub fn load_capture(path: &Path, crop: Option<&CropSpec>, lod: Option<u32>) -> Result<GaussianCloud, DocumentError> {
    load_capture_counted(path, crop, lod, None)
}

/// [`load_capture`], counting the bytes read into `progress`.
pub fn load_capture_counted(
    path: &Path,
    crop: Option<&CropSpec>,
    lod: Option<u32>,
    progress: Option<std::sync::Arc<formats::LoadProgress>>,
) -> Result<GaussianCloud, DocumentError> {
    let mut cloud = formats::load(path, &LoadOptions { lod, progress, ..Default::default() })
        .map_err(|e| DocumentError::Load { path: path.into(), error: e.to_string() })?
        .cloud;
    if let Some(c) = crop {
        crop_to_box(&mut cloud, c.box_min.into(), c.box_max.into());
    }
    Ok(cloud)
}

#[derive(Debug, Clone, Default)]
pub struct Document {
    pub layers: Vec<DocLayer>,
    pub blend: BlendSpec,
    pub output: Option<OutputSpec>,
    /// The job file this document was opened from or last saved to.
    pub path: Option<PathBuf>,
}

/// A layer name for a capture file: its name up to the first dot, or for SOG's `meta.json` and
/// `lod-meta.json` (whose names say nothing) the folder holding it.
pub fn capture_name(path: &Path) -> String {
    let file = path.file_name().and_then(|s| s.to_str()).unwrap_or("layer");
    let folder = path.parent().and_then(|p| p.file_name()).and_then(|s| s.to_str());
    match folder {
        Some(f) if file.to_ascii_lowercase().ends_with("meta.json") => f.to_string(),
        _ => file.split('.').next().unwrap_or(file).to_string(),
    }
}

/// A name not yet used by `layers`, from `base`.
pub fn unique_name(layers: &[DocLayer], base: &str) -> String {
    let taken = |n: &str| layers.iter().any(|l| l.name == n);
    if !taken(base) {
        return base.to_string();
    }
    (2..).map(|i| format!("{base} {i}")).find(|n| !taken(n)).expect("some number is free")
}

/// The default role of the `index`-th layer added to a scene: source, then target, then fixed.
pub fn default_role(layers: &[DocLayer]) -> Role {
    if !layers.iter().any(|l| l.role == Role::Source) {
        Role::Source
    } else if !layers.iter().any(|l| l.role == Role::Target) {
        Role::Target
    } else {
        Role::Fixed
    }
}

impl Document {
    /// Opens a job file: every layer loaded, cropped, with its transform as an edit. Role
    /// counts are not enforced (a half-made scene opens); saving says when it will not run.
    pub fn open_job(path: &Path) -> Result<Document, DocumentError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| DocumentError::Load { path: path.into(), error: format!("cannot read the job file: {e}") })?;
        let spec: JobFile = toml::from_str(&text).map_err(|e| {
            DocumentError::Job(JobError {
                file: path.into(),
                line: e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1),
                key: None,
                message: e.message().trim().to_string(),
            })
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut layers = Vec::with_capacity(spec.layers.len());
        for l in spec.layers {
            let file = if l.file.is_absolute() { l.file.clone() } else { base.join(&l.file) };
            // Absolute: a job opened by a relative path is saved and run from other folders.
            let file = std::path::absolute(&file).unwrap_or(file);
            let cloud = load_capture(&file, l.crop.as_ref(), l.lod)?;
            let mut layer = DocLayer::new(l.name, file, l.role, cloud).graded(l.grade.unwrap_or_default());
            layer.crop = l.crop;
            layer.lod = l.lod;
            layer.transform = l.transform.unwrap_or_default();
            layers.push(layer);
        }
        Ok(Document { layers, blend: spec.blend, output: Some(spec.output), path: Some(path.into()) })
    }

    /// A layer for a capture file, named after it, with the next default role.
    pub fn layer_from_file(&self, path: &Path) -> Result<DocLayer, DocumentError> {
        let cloud = load_capture(path, None, None)?;
        Ok(DocLayer::new(
            unique_name(&self.layers, &capture_name(path)),
            std::path::absolute(path).unwrap_or_else(|_| path.into()),
            default_role(&self.layers),
            cloud,
        ))
    }

    pub fn gaussian_count(&self) -> usize {
        self.layers.iter().map(|l| l.len()).sum()
    }

    /// The job as it would be saved at `job_path`: capture paths relative to its folder when
    /// they lie below it (absolute everywhere without a path).
    pub fn job_file(&self, job_path: Option<&Path>) -> JobFile {
        let base = job_path.and_then(|j| std::path::absolute(j).ok()).and_then(|p| p.parent().map(Path::to_path_buf));
        let rel = |f: &Path| match &base {
            Some(b) => f.strip_prefix(b).map(Path::to_path_buf).unwrap_or_else(|_| f.to_path_buf()),
            None => f.to_path_buf(),
        };
        let stem = job_path.and_then(|j| j.file_stem()).and_then(|s| s.to_str()).unwrap_or("stitched");
        JobFile {
            layers: self
                .layers
                .iter()
                .map(|l| LayerSpec {
                    name: l.name.clone(),
                    file: rel(&l.file),
                    role: l.role,
                    crop: l.crop.clone(),
                    transform: (l.transform != TransformSpec::default()).then(|| l.transform.clone()),
                    lod: l.lod,
                    grade: l.grade_key(),
                })
                .collect(),
            blend: self.blend.clone(),
            output: self.output.clone().unwrap_or(OutputSpec {
                ply: PathBuf::from(format!("out/{stem}.ply")),
                report: Some(PathBuf::from(format!("out/{stem}.json"))),
                renders: Some(PathBuf::from(format!("out/{stem}_renders"))),
            }),
        }
    }

    /// [`Self::job_file`], after writing each layer that its capture no longer describes
    /// (deletions, a stitch result, a separated part) as its own PLY in `dir`.
    pub fn job_file_writing(&self, job_path: Option<&Path>, dir: &Path) -> Result<JobFile, DocumentError> {
        let mut spec = self.job_file(job_path);
        let base = job_path.and_then(|j| std::path::absolute(j).ok()).and_then(|p| p.parent().map(Path::to_path_buf));
        for (l, s) in self.layers.iter().zip(spec.layers.iter_mut()) {
            if !l.needs_own_file() {
                continue;
            }
            let safe: String =
                l.name.chars().map(|c| if c.is_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
            // Never over a capture some layer reads (a reopened job's own layer files included).
            let path = (0..)
                .map(|i| dir.join(if i == 0 { format!("{safe}.layer.ply") } else { format!("{safe}.{i}.layer.ply") }))
                .find(|p| self.refuse_inputs(p).is_ok())
                .expect("some name is free");
            std::fs::create_dir_all(dir).map_err(|e| DocumentError::Save { path: dir.into(), error: e.to_string() })?;
            formats::save(&path, &l.kept(), &SaveOptions::default())
                .map_err(|e| DocumentError::Save { path: path.clone(), error: e.to_string() })?;
            s.file = match &base {
                Some(b) => path.strip_prefix(b).map(Path::to_path_buf).unwrap_or(path),
                None => std::path::absolute(&path).unwrap_or(path),
            };
            // The written cloud is already cropped and graded.
            s.crop = None;
            s.grade = None;
        }
        Ok(spec)
    }

    fn refuse_inputs(&self, path: &Path) -> Result<(), DocumentError> {
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.into());
        if self.layers.iter().any(|l| l.file == abs || l.file == path) {
            return Err(DocumentError::WouldOverwriteInput(path.into()));
        }
        Ok(())
    }

    /// Writes the job atomically. Returns a warning when the job would not run headless (for
    /// instance no target yet); the file is written either way, so no work is lost.
    pub fn save_job(&mut self, path: &Path) -> Result<Option<String>, DocumentError> {
        self.refuse_inputs(path)?;
        let dir = std::path::absolute(path).ok().and_then(|p| p.parent().map(Path::to_path_buf)).unwrap_or_default();
        let spec = self.job_file_writing(Some(path), &dir)?;
        let text = toml::to_string_pretty(&spec)
            .map_err(|e| DocumentError::Save { path: path.into(), error: e.to_string() })?;
        let text = format!(
            "# Saved by the splatstitch editor. Re-run headless with: splatstitch stitch {}\n\n{text}",
            path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()
        );
        formats::write_atomically(path, text.as_bytes())
            .map_err(|e| DocumentError::Save { path: path.into(), error: e.to_string() })?;
        self.path = Some(path.into());
        Ok(Job::parse(path, &text).err().map(|e| format!("saved, but it will not run headless yet: {e}")))
    }

    /// The composite with every transform baked, layers in order, SH raised to the highest
    /// degree present (as `stitch` writes it). Hidden layers and deleted Gaussians are left out.
    pub fn baked_composite(&self) -> Result<GaussianCloud, DocumentError> {
        let visible: Vec<&DocLayer> = self.layers.iter().filter(|l| l.visible).collect();
        let degree = visible.iter().map(|l| l.cloud.sh_degree).max().ok_or(DocumentError::Empty)?;
        let mut out: Option<GaussianCloud> = None;
        for l in visible {
            let mut c = with_sh_degree(&l.kept(), degree);
            l.transform.similarity().bake(&mut c);
            match &mut out {
                Some(o) => o.append(&c),
                None => out = Some(c),
            }
        }
        out.ok_or(DocumentError::Empty)
    }

    /// Exports the baked composite; the format follows the extension (PLY by default).
    pub fn export(&self, path: &Path) -> Result<usize, DocumentError> {
        self.refuse_inputs(path)?;
        let cloud = self.baked_composite()?;
        let path = if path.extension().is_none() { path.with_extension("ply") } else { path.to_path_buf() };
        formats::save(&path, &cloud, &SaveOptions::default())
            .map_err(|e| DocumentError::Save { path: path.clone(), error: e.to_string() })?;
        Ok(cloud.len())
    }
}
