//! servebench config layer: YAML test configs become typed, validated test cases.

pub mod select;
