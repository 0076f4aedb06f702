//! Integration tests of the report renderers on the real example run and fixed inputs.
#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

#[path = "../support/sample.rs"]
mod sample;

mod golden;
mod html;
mod junit;
mod load;
mod markdown;
