//! What a benchmark reads from `/proc`: CPU time, memory, process trees, core pinning.

use std::process::{Command, Stdio};

/// CPU seconds a process has used (user + system).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    (ticks(11) + ticks(12)) / clock_ticks()
}

/// Clock ticks per second (`getconf CLK_TCK`).
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// A `VmHWM`/`VmRSS`-style line of /proc/PID/status, in MiB.
pub fn memory_mib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Proportional set size of a process, in MiB (shared pages divided among their users, so
/// a process tree's PSS adds up without counting shared libraries twice).
pub fn pss_mib(pid: u32) -> f64 {
    rollup_mib(pid, "Pss:")
}

/// Resident memory of a process in MiB (`/proc/PID/smaps_rollup`), shared pages counted in
/// full, as `ps` and the bar count it.
pub fn rss_mib(pid: u32) -> f64 {
    rollup_mib(pid, "Rss:")
}

fn rollup_mib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The parent of a process.
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// `pid` and every process below it.
pub fn tree(pid: u32) -> Vec<u32> {
    let all: Vec<u32> = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(all.iter().copied().filter(|&c| parent(c) == Some(p)));
        i += 1;
    }
    out
}

/// The command name of a process (`/proc/PID/comm`).
pub fn name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The cores this machine has online (whatever this process is allowed to use).
pub fn machine_cores() -> usize {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|t| t.lines().filter(|l| l.starts_with("processor")).count())
        .unwrap_or(1)
        .max(1)
}

/// Keep a process (all its threads) on one core, when the machine has two or more.
pub fn pin(pid: u32, core: u32) {
    // The machine's cores, not this process's: once a bench has pinned itself to one core,
    // `available_parallelism` says 1, and every later pin was silently skipped (the app and
    // WebKit then shared the bots' core in `bench-app` until 2026-12-02).
    if machine_cores() >= 2 {
        let _ = Command::new("taskset")
            .args(["-a", "-cp", &core.to_string(), &pid.to_string()])
            .stdout(Stdio::null())
            .status();
    }
}
