//! The `servebench` binary; everything lives in the library so tests can call it in-process.

// Config loading allocates many small trees; mimalloc makes `validate` of 10,000 configs markedly
// faster than glibc malloc on this workload (see benches/config_suite.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    servebench_cli::main_impl()
}
