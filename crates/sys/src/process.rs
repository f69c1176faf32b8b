//! Process control for the tests and benchmarks: peers that die with the test
//! process, signals to our own children, who we run as, what a child used.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// Makes `command`'s process receive SIGKILL when the thread that spawns it
/// ends (the caller spawns from a thread that lives as long as the tests).
pub fn die_with_parent(command: &mut Command) {
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// Sends `signal` (a `libc::SIG*`) to process `pid`; says whether it was sent.
pub fn signal(pid: u32, signal: i32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: kill(2) with a pid and a signal number; it touches no memory of ours.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// Sends `signal` to a child of ours.
pub fn signal_child(child: &Child, signal_number: i32) -> bool {
    signal(child.id(), signal_number)
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// What a process used so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// User and system CPU time, in seconds.
    pub cpu_seconds: f64,
    /// System CPU time alone, in seconds.
    pub sys_seconds: f64,
    /// Voluntary and involuntary context switches.
    pub context_switches: f64,
}

/// What this process (`children` false) or its waited-for children (`children`
/// true) used so far.
pub fn usage(children: bool) -> Usage {
    let who = if children {
        libc::RUSAGE_CHILDREN
    } else {
        libc::RUSAGE_SELF
    };
    // SAFETY: rusage is plain data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage(2) writes into the struct we own.
    if unsafe { libc::getrusage(who, &mut usage) } != 0 {
        return Usage::default();
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Usage {
        cpu_seconds: seconds(usage.ru_utime) + seconds(usage.ru_stime),
        sys_seconds: seconds(usage.ru_stime),
        context_switches: (usage.ru_nvcsw + usage.ru_nivcsw) as f64,
    }
}

/// The signal numbers the tests use.
pub use libc::{SIGCONT, SIGINT, SIGKILL, SIGSTOP, SIGTERM};
