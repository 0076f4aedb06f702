//! `servebench completions SHELL`: the shell completion script, on stdout.
//!
//! ```sh
//! servebench completions bash > ~/.local/share/bash-completion/completions/servebench
//! servebench completions zsh > "${fpath[1]}/_servebench"
//! servebench completions fish > ~/.config/fish/completions/servebench.fish
//! ```

use std::process::ExitCode;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::exit;

/// Arguments of `servebench completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

/// Prints the completion script of every subcommand and option.
pub fn run(args: CompletionsArgs) -> ExitCode {
    let mut out = Vec::new();
    write(args.shell, &mut out);
    use std::io::Write as _;
    match std::io::stdout().lock().write_all(&out) {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(exit::OK),
        Err(e) => {
            say!("error: cannot write to stdout: {e}");
            ExitCode::from(exit::INFRA)
        }
    }
}

fn write(shell: Shell, out: &mut Vec<u8>) {
    clap_complete::generate(shell, &mut crate::Cli::command(), "servebench", out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_complete_subcommands_and_their_options() {
        for (shell, marker) in [
            (Shell::Bash, "complete -F"),
            (Shell::Zsh, "#compdef servebench"),
            (Shell::Fish, "complete -c servebench"),
        ] {
            let mut out = Vec::new();
            write(shell, &mut out);
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains(marker), "{shell}: {marker}");
            for word in ["report", "completions", "markdown", "validate"] {
                assert!(text.contains(word), "{shell} lacks {word}");
            }
        }
    }
}
