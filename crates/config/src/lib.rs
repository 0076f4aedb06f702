//! servebench config layer: YAML test configs become typed, validated test cases.
//!
//! Data flow inside this crate: [`discover`] finds files, [`load`] reads each into a located
//! [`yaml`] tree, applies the layers (built-in defaults < cluster profile < file < environment <
//! command line, with provenance) and types it into [`model::TestCase`]s; [`validate`] applies the
//! SPEC section 4 rules; [`select`] filters cases by type, category, model, `-k`/`-m` expressions
//! and test lists. Everything is synchronous and never prints: problems come back as
//! [`diag::Diagnostic`]s for the caller to render.

mod decode;
pub mod defaults;
pub mod diag;
pub mod discover;
pub mod identity;
pub mod load;
pub mod model;
pub mod profile;
pub mod select;
pub mod validate;
pub mod yaml;
