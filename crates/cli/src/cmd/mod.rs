//! One module per subcommand: convert arguments, call the library, render the result.

pub mod baseline;
pub mod bench;
pub mod cancel;
pub mod check;
pub mod collect;
pub mod compare;
pub mod completions;
pub mod export;
pub mod history;
pub mod import;
pub mod job;
pub mod list;
pub mod list_suite;
pub mod plan;
pub mod render;
pub mod report;
pub mod resume;
pub mod run;
pub mod show;
pub mod sim;
pub mod status;
pub mod validate;
