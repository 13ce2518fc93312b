//! Registry logic the routes call: manifest validation and storage, and the
//! referrers rules. Services never call back into routes.

pub mod manifests;
pub mod referrers;
