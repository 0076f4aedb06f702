//! Process groups: every process servebench starts leads its own group, so that one signal reaches
//! it and everything it started (srun, engine workers, shells).
//!
//! [`pid_alive`] and [`terminate`] are public for `servebench status` and `servebench cancel`.

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// Sends `sig` to the process group `pgid`. Returns false when no such group exists any more.
pub(crate) fn signal_group(pgid: u32, sig: Signal) -> bool {
    let Ok(raw) = i32::try_from(pgid) else {
        return false;
    };
    if raw <= 1 {
        return false;
    }
    !matches!(killpg(Pid::from_raw(raw), sig), Err(Errno::ESRCH))
}

/// Whether any process of group `pgid` is still alive (zombies included).
pub(crate) fn group_alive(pgid: u32) -> bool {
    let Ok(raw) = i32::try_from(pgid) else {
        return false;
    };
    raw > 1 && killpg(Pid::from_raw(raw), None).is_ok()
}

/// Whether process `pid` exists and has not ended (a zombie has ended).
pub fn pid_alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if raw <= 1 || matches!(kill(Pid::from_raw(raw), None), Err(Errno::ESRCH)) {
        return false;
    }
    // A zombie nobody reaps (an orphan under a PID 1 that does not wait) has ended.
    match std::fs::read_to_string(format!("/proc/{raw}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())
            .is_none_or(|state| state != 'Z' && state != 'X'),
        Err(_) => true,
    }
}

/// Parses a signal name as written in launch specs (`TERM`, `SIGINT`, `KILL`).
pub(crate) fn parse_signal(name: &str) -> Signal {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    match bare {
        "INT" => Signal::SIGINT,
        "KILL" => Signal::SIGKILL,
        "HUP" => Signal::SIGHUP,
        "QUIT" => Signal::SIGQUIT,
        "USR1" => Signal::SIGUSR1,
        "USR2" => Signal::SIGUSR2,
        _ => Signal::SIGTERM,
    }
}

/// Sends SIGTERM to process `pid` (the `servebench run` driving a run, for `servebench cancel`).
/// Returns whether it was delivered.
pub fn terminate(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    raw > 1 && kill(Pid::from_raw(raw), Signal::SIGTERM).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names() {
        assert_eq!(parse_signal("TERM"), Signal::SIGTERM);
        assert_eq!(parse_signal("sigint"), Signal::SIGINT);
        assert_eq!(parse_signal("KILL"), Signal::SIGKILL);
        assert_eq!(parse_signal("nonsense"), Signal::SIGTERM);
        assert!(!signal_group(0, Signal::SIGTERM));
        assert!(!group_alive(1));
    }
}
