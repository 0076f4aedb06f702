//! The `servebench` binary; everything lives in the library so tests can call it in-process.
fn main() -> std::process::ExitCode {
    servebench_cli::main_impl()
}
