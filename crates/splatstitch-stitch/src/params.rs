//! `[blend]`: every setting of a stitch, typed, with two presets. `preset = "default"` (or no
//! preset) is ours: the seam appearance fit first, an optimizer tuned on held-out captures,
//! validation views that keep the best iterate. `preset = "paper"` is exactly what 3D Gaussian
//! Stitching states, and our choices where it is silent (docs/ARCHITECTURE.md has the table).
//! Keys written in the job override the preset's values; the report echoes the result.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// The two-phase optimization of 3D Gaussian Stitching.
    #[default]
    Stitch,
    /// SeamlessNeRF-style gradient propagation baseline.
    Poisson,
    /// Compose only.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Ours (measured in docs/BENCHMARKS.md).
    #[default]
    Default,
    /// What the paper states; its silent points at our values.
    Paper,
}

/// L, "the size of the combined object".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SizeMeasure {
    /// Diagonal of the bounding box of every centre.
    Diagonal,
    /// Diagonal of the box holding 98 % of the centres on each axis (floaters do not count).
    RobustDiagonal,
}

/// What L_feature pulls each boundary Gaussian towards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureReference {
    /// The mean SH of its K source neighbours (the paper).
    Neighbours,
    /// Its own SH moved by the source's minus the target's field colour at its centre: the
    /// seam's colour difference without another place's texture.
    Field,
}

/// What L_color clones from the driving points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cloning {
    /// Their colours (the paper).
    Colours,
    /// Their colour changes since the start, so the interior keeps its own texture.
    Changes,
}

/// How the optimizer's gradient is formed on a burn device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GradientPath {
    /// The explicit gradient on a GPU (burn-wgpu's scatter is serial), autodiff on burn's CPU
    /// backends. The native CPU loops always form it by hand.
    Auto,
    Autodiff,
    Explicit,
}

/// Units of the jitter φ(x) = x + A·sin(γ·δx)·(1, 1, 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JitterUnits {
    /// A and δx in world units, as the paper writes φ.
    World,
    /// A as a fraction of L and the phase γ·δx/L: the same jitter whatever the scene's scale.
    Size,
}

/// How L_tune weighs a pixel's pull towards its nearest palette colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TuneWeighting {
    /// By the proportion of the source's samples that colour holds (the paper).
    Proportion,
    Uniform,
}

/// The colour model of the seam appearance fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferModel {
    /// Chosen by cross-validation among the three below.
    Auto,
    GainOffset,
    Matrix,
    Curve,
}

/// Where the seam appearance fit finds corresponding colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferSamples {
    /// Maps fitted on the pixels, the points and the exact pairs, the best on held-out pixels
    /// kept.
    Auto,
    /// Pixels both layers' renders cover at agreeing depths.
    Image,
    /// Target centres where both layers' radiance fields are dense.
    Points,
    /// Pixels and points pooled.
    Both,
    /// Gaussians that are in both layers unchanged in place and shape (one capture cut into
    /// overlapping parts), each copy's own colour.
    Exact,
}

/// `"auto"` or a number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AutoOr<T> {
    Auto,
    Value(T),
}

impl<T: Serialize> Serialize for AutoOr<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AutoOr::Auto => s.serialize_str("auto"),
            AutoOr::Value(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for AutoOr<f32> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(v) => Ok(AutoOr::Value(v as f32)),
            Raw::Text(t) if t == "auto" => Ok(AutoOr::Auto),
            Raw::Text(t) => Err(serde::de::Error::custom(format!("expected \"auto\" or a number, found \"{t}\""))),
        }
    }
}

/// Declares [`BlendSpec`] and its on-disk form once: every key optional in the file, filled
/// from the preset.
macro_rules! blend_keys {
    ($( $(#[$doc:meta])* $name:ident : $ty:ty, )*) => {
        /// `[blend]` with every value resolved (preset, then the job's keys).
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(from = "BlendFile")]
        pub struct BlendSpec {
            /// The preset the other values started from.
            pub preset: Preset,
            $( $(#[$doc])* pub $name: $ty, )*
        }

        #[derive(Deserialize, Default)]
        #[serde(deny_unknown_fields, default)]
        struct BlendFile {
            preset: Option<Preset>,
            $( $name: Option<$ty>, )*
        }

        impl From<BlendFile> for BlendSpec {
            fn from(f: BlendFile) -> Self {
                #[allow(unused_mut)]
                let mut spec = BlendSpec::of_preset(f.preset.unwrap_or_default());
                $( if let Some(v) = f.$name { spec.$name = v; } )*
                spec
            }
        }

        /// Every key of `[blend]`, for help texts and `--set`.
        pub const BLEND_KEYS: &[&str] = &["preset", $( stringify!($name), )*];
    };
}

blend_keys! {
    /// stitch | poisson | none.
    method: Method,
    /// Neighbours per target Gaussian in the seam search (and driving points).
    k: usize,
    /// A target Gaussian is on the seam when its K source neighbours lie within β·L on average.
    beta: f32,
    /// …and its opacity exceeds τ.
    tau: f32,
    /// When τ leaves fewer seam Gaussians than this, τ is lowered to the opacity quantile of the
    /// overlap that keeps this many (0: never).
    min_boundary: usize,
    /// What L is.
    size: SizeMeasure,
    /// Iterations of the stitch optimizer (0: the seam fit alone).
    iterations: usize,
    /// Working cameras on a sphere around the composite.
    views: usize,
    /// Their image side in pixels.
    resolution: u32,
    seed: u64,
    /// Weights of the losses.
    lambda_feature: f32,
    lambda_color: f32,
    lambda_grad: f32,
    lambda_tune: f32,
    /// L_tune joins after this fraction of the iterations.
    tune_from: f32,
    tune_weighting: TuneWeighting,
    /// Adam's step on the SH coefficients.
    learning_rate: f32,
    feature_reference: FeatureReference,
    cloning: Cloning,
    gradient: GradientPath,
    /// γ and A of the driving points' jitter φ.
    gamma: f32,
    jitter_amplitude: f32,
    jitter_units: JitterUnits,
    /// Fit the seam appearance change (overlap-wide) and apply it before optimizing.
    seam_transfer: bool,
    transfer_model: TransferModel,
    /// Fraction of the fitted map applied: "auto" = the fit's confidence, or 0..=1.
    transfer_strength: AutoOr<f32>,
    transfer_samples: TransferSamples,
    /// Fit and undo a gain that drifts along the seam (light falling off; across it too where
    /// exact copies measure it), then refit the map.
    transfer_shading: bool,
    /// Image-space samples are averaged over blocks of this many pixels square.
    transfer_block: u32,
    /// Cameras the optimizer never sees, which score its checkpoints (0: none).
    validation_views: usize,
    /// Return the best checkpoint on the validation views, and the input's colours when no
    /// checkpoint beats them.
    keep_best: bool,
    /// Iterations between checkpoints.
    checkpoint_every: usize,
    /// Stop after this many checkpoints in a row without a better score (0: run to the end).
    patience: usize,
    /// A checkpoint replaces the optimizer's start only when it scores at least this fraction
    /// better on the validation views: their seam error holds the texture noise of two
    /// captures, which any change lowers a little without bringing the truth nearer.
    min_improvement: f32,
    /// Weight of the target's change far from the seam in a checkpoint's score.
    far_weight: f32,
    /// Poisson baseline: weight w of the gradient term, iterations, neighbour spacing δ as the
    /// box's longest side over this, Adam's step, samples per batch and term.
    poisson_weight: f32,
    poisson_iterations: usize,
    poisson_grid: u32,
    poisson_learning_rate: f32,
    poisson_batch: usize,
}

impl Default for BlendSpec {
    fn default() -> Self {
        BlendSpec::of_preset(Preset::Default)
    }
}

impl BlendSpec {
    /// Every value of a preset.
    pub fn of_preset(preset: Preset) -> BlendSpec {
        let ours = BlendSpec {
            preset: Preset::Default,
            method: Method::Stitch,
            k: 16,
            beta: 0.05,
            tau: 0.95,
            min_boundary: 256,
            size: SizeMeasure::RobustDiagonal,
            iterations: 400,
            views: 32,
            resolution: 256,
            seed: 0,
            lambda_feature: 1.0,
            lambda_color: 0.0,
            lambda_grad: 2.0,
            lambda_tune: 0.0,
            tune_from: 0.5,
            tune_weighting: TuneWeighting::Proportion,
            learning_rate: 0.002,
            feature_reference: FeatureReference::Field,
            cloning: Cloning::Changes,
            gradient: GradientPath::Auto,
            gamma: 10.0,
            jitter_amplitude: 0.01,
            jitter_units: JitterUnits::Size,
            seam_transfer: true,
            transfer_model: TransferModel::Auto,
            transfer_strength: AutoOr::Auto,
            transfer_samples: TransferSamples::Auto,
            transfer_shading: true,
            transfer_block: 1,
            validation_views: 8,
            keep_best: true,
            checkpoint_every: 50,
            patience: 3,
            min_improvement: 0.07,
            far_weight: 1.0,
            poisson_weight: 0.1,
            poisson_iterations: 3000,
            poisson_grid: 64,
            poisson_learning_rate: 1e-3,
            poisson_batch: 65_536,
        };
        match preset {
            Preset::Default => ours,
            // Stated by the paper: β = 0.05·L with L the combined object's size, τ = 0.95,
            // γ = 10 with φ(x) = x + sin(γ·δx) (no amplitude), λ_grad = λ_tune = 2, the losses
            // summed with weight 1, L_tune weighted by the palette's proportions, the boundary
            // reference the neighbours' mean, colours cloned. Not stated (ours): K, iterations,
            // views, resolution, the optimizer's step, when L_tune starts.
            Preset::Paper => BlendSpec {
                preset: Preset::Paper,
                min_boundary: 0,
                size: SizeMeasure::Diagonal,
                iterations: 1500,
                learning_rate: 0.01,
                feature_reference: FeatureReference::Neighbours,
                cloning: Cloning::Colours,
                jitter_amplitude: 1.0,
                jitter_units: JitterUnits::World,
                seam_transfer: false,
                keep_best: false,
                patience: 0,
                min_improvement: 0.0,
                lambda_color: 1.0,
                lambda_tune: 2.0,
                ..ours
            },
        }
    }
}
