//! Core of splatstitch: the Gaussian cloud data model, scenes of layers with non-destructive
//! similarity transforms, and the splat file formats people actually exchange.
//!
//! Everything downstream (renderer, stitcher, editor) sees Gaussians through [`GaussianCloud`],
//! a structure-of-arrays that maps directly onto GPU buffers.

pub mod cloud;
pub mod colour_map;
pub mod error;
pub mod formats;
pub mod grade;
pub mod layer;
pub mod sh;
pub mod stats;
#[doc(hidden)]
pub mod test_data;
pub mod transform;

pub use cloud::{ExtraColumn, GaussianCloud, ScalarKind};
pub use colour_map::ColourMap;
pub use error::{FormatError, LoadError};
pub use formats::{Format, LoadOptions, Loaded, NonFinitePolicy, PlyEncoding, SaveOptions};
pub use grade::Grade;
pub use layer::{Layer, LayerFlags, Role, Scene};
pub use transform::Similarity;
