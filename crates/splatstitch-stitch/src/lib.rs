//! The stitching engine (DESIGN §5–§7): job files, composition of layers, KNN seam detection,
//! blending methods, metrics and reports. The editor and the headless `stitch` command call
//! the same functions.

pub mod backend;
pub mod boundary;
pub mod cameras;
pub mod compose;
pub mod driving;
pub mod explicit;
pub mod job;
pub mod metrics;
pub mod native;
pub mod optimize;
pub mod poisson;
pub mod recolor;
pub mod run;
pub mod segment;
pub mod transfer;

pub use backend::BackendChoice;
pub use boundary::{Boundary, BoundaryParams, find_boundary};
pub use compose::Composite;
pub use job::{Job, JobError, Method};
pub use run::{Report, RunOptions, Stage, StitchError, run};
