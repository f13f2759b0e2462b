//! The stitching engine (docs/ARCHITECTURE.md §5, §7, §8): job files, composition of layers, KNN seam detection,
//! blending methods, metrics and reports. The editor and the headless `stitch` command call
//! the same functions.

pub mod backend;
pub mod benchmark;
pub mod boundary;
pub mod cameras;
pub mod centres;
pub mod compose;
pub mod driving;
pub mod explicit;
pub mod field;
pub mod job;
pub mod metrics;
pub mod native;
pub mod optimize;
pub mod params;
pub mod poisson;
pub mod report;
pub mod run;
pub mod seam_fit;
pub mod segment;
pub mod transfer;
pub mod validation;
pub mod views;

pub use backend::BackendChoice;
pub use boundary::{Boundary, BoundaryParams, find_boundary};
pub use compose::Composite;
pub use job::{Job, JobError, Method};
pub use report::Report;
pub use run::{RunOptions, Stage, StitchError, run};
