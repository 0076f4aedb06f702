//! Integration tests of the config layer over the upstream fixtures and hostile inputs.
#![allow(clippy::unwrap_used, reason = "tests fail loudly on unexpected errors")]

mod docs;
mod fixtures;
mod garbage;
mod hostile;
use servebench_testkit::mutate;
