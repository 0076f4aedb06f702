//! Integration tests of the results layer: fixture goldens, collect over bundle directories,
//! renderer snapshots, and parser properties.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]
#![recursion_limit = "256"]

mod bundle;
mod fixtures;
mod formats;
mod garbage;
use servebench_testkit::mutate;
mod props;
mod real_bundle;
mod render;
mod table_props;
