//! The local disk: which directories may be used, readable unique names, atomic writes,
//! provenance metadata in saved images, and reading reference images. Knows nothing about MCP.

pub mod local_ref;
pub mod naming;
pub mod output_dir;
pub mod provenance;
pub mod roots;
pub mod save;

pub use output_dir::OutputDir;
pub use roots::{AllowedRoots, PathError};
