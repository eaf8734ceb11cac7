//! The key commands beside the diagnosis: `key`, `expiring`, `impact` and `rotate`, each a
//! module of the same name as its command file in `cli/` and its renderer in `report/`.
//!
//! - **In**: key metadata (files, a bundle, the live cluster's answers as data), the scanned
//!   logs' successes, the products' signs (`rules/products.toml`).
//! - **Out**: each command's own result type (`KeyReport`, `ExpiringReport`, `Impact`, `Plan`).
//! - **Never**: call a cluster (the pipeline did) or render.

pub mod can;
pub mod expiring;
pub mod impact;
pub mod key;
pub mod replay;
pub mod rotate;
pub mod suggest;
