//! Integration tests of the report renderers on the real example run and fixed inputs.

#[path = "../support/sample.rs"]
mod sample;

mod golden;
mod html;
mod load;
mod markdown;
