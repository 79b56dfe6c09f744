//! Child processes for the Autobahn run (testees and wstest): started with
//! their output in a log file, waited for with deadlines, and stopped with
//! everything they started (`cargo run` and shell wrappers start
//! grandchildren), also when the run fails or panics (`Drop`).
//!
//! Each child leads its own process group, and the whole group is signalled.
//! A watchdog `sh` per child, in a group of its own and deaf to SIGINT, holds
//! a pipe from the xtask: if the xtask dies for any reason (Ctrl-C, SIGTERM,
//! SIGKILL) the pipe closes and the watchdog stops the group, so no testee or
//! wstest is left listening. Signals go through the `kill` command (the xtask
//! has no `unsafe` and no libc binding).

use std::fs;
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::Result;

/// `$1` = the process group. Waits for EOF on stdin (the xtask ended without
/// stopping the group), then stops the group.
const WATCHDOG: &str = "trap '' INT HUP TERM; read _; kill -TERM \"-$1\" 2>/dev/null || exit 0; \
    i=0; while kill -0 \"-$1\" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; \
    kill -KILL \"-$1\" 2>/dev/null; exit 0";

/// A running child process (leader of its own process group) and its log.
#[derive(Debug)]
pub(crate) struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
    watchdog: Option<Child>,
    stopped: bool,
}

impl Proc {
    /// Starts `argv` in `dir` with stdout and stderr in `log`.
    pub(crate) fn spawn(
        name: &str,
        argv: &[String],
        dir: &Path,
        envs: &[(&str, &str)],
        log: &Path,
    ) -> Result<Proc> {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| format!("{name}: empty command"))?;
        if let Some(parent) = log.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        let out = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        eprintln!("autobahn: $ {}   (log: {})", argv.join(" "), log.display());
        let child = Command::new(program)
            .args(args)
            .current_dir(dir)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("{name}: cannot run {program}: {e}"))?;
        let watchdog = Command::new("sh")
            .args(["-c", WATCHDOG, "autobahn-watchdog"])
            .arg(child.id().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        let mut proc = Proc {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
            watchdog: None,
            stopped: false,
        };
        match watchdog {
            Ok(w) => proc.watchdog = Some(w),
            Err(e) => return Err(format!("cannot start the watchdog for {name}: {e}")),
        }
        Ok(proc)
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The exit status if the process has ended.
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The last `n` lines of the log, indented, for error messages.
    pub(crate) fn log_tail(&self, n: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let mut out = format!("last lines of {}:", self.log.display());
        for line in &lines[lines.len().saturating_sub(n)..] {
            out.push_str("\n  | ");
            out.push_str(line);
        }
        out
    }

    /// Waits for the process to end, calling `tick` about every 30 s.
    /// On timeout the process is stopped and an error returned.
    pub(crate) fn wait(
        &mut self,
        timeout: Duration,
        mut tick: impl FnMut(Duration),
    ) -> Result<ExitStatus> {
        let start = Instant::now();
        let mut next_tick = Duration::from_secs(30);
        loop {
            if let Some(status) = self.exited() {
                return Ok(status);
            }
            let elapsed = start.elapsed();
            if elapsed > timeout {
                self.stop();
                return Err(format!(
                    "{} did not finish within {} s; stopped it\n{}",
                    self.name,
                    timeout.as_secs(),
                    self.log_tail(10)
                ));
            }
            if elapsed >= next_tick {
                tick(elapsed);
                next_tick += Duration::from_secs(30);
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `host:port` accepts TCP connections; fails early if the
    /// process ends first.
    pub(crate) fn wait_for_port(&mut self, host: &str, port: u16, timeout: Duration) -> Result {
        let start = Instant::now();
        loop {
            if let Some(status) = self.exited() {
                return Err(format!(
                    "{} exited ({status}) before listening on {host}:{port}\n{}",
                    self.name,
                    self.log_tail(15)
                ));
            }
            if accepts(host, port) {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(format!(
                    "{} is not listening on {host}:{port} after {} s\n{}",
                    self.name,
                    timeout.as_secs(),
                    self.log_tail(15)
                ));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the process group: SIGTERM, then SIGKILL for whatever is left
    /// after 5 s; then the watchdog. Idempotent.
    pub(crate) fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let group = self.child.id();
        if group_signal("TERM", group) {
            let deadline = Instant::now() + Duration::from_secs(5);
            // The leader, until reaped, keeps the group alive.
            while (self.exited().is_none() || group_signal("0", group)) && Instant::now() < deadline
            {
                thread::sleep(Duration::from_millis(50));
            }
            if group_signal("0", group) {
                eprintln!(
                    "autobahn: {} did not stop on SIGTERM; sending SIGKILL",
                    self.name
                );
                group_signal("KILL", group);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends SIGname to every process in `group` ("0": only checks that one
/// exists); true if some process got it.
fn group_signal(name: &str, group: u32) -> bool {
    Command::new("kill")
        .arg(format!("-{name}"))
        .arg("--")
        .arg(format!("-{group}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether something accepts TCP connections on `host:port`.
pub(crate) fn accepts(host: &str, port: u16) -> bool {
    let Ok(addrs) = (host, port).to_socket_addrs() else {
        return false;
    };
    addrs
        .into_iter()
        .any(|a| TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_ok())
}

/// Splits a command line into words: whitespace separates, '...' and "..."
/// quote, and a backslash escapes the next character (outside '...').
pub(crate) fn split_command(line: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated ' in {line:?}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => word.push(c),
                            None => return Err(format!("trailing \\ in {line:?}")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated \" in {line:?}")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(
                    chars
                        .next()
                        .ok_or_else(|| format!("trailing \\ in {line:?}"))?,
                );
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if words.is_empty() {
        return Err("empty command".into());
    }
    Ok(words)
}

/// For `cargo [+toolchain] run ARGS [-- PROGRAM-ARGS]`, the matching
/// `cargo build ARGS`, so the build is not part of the start-up timeout.
pub(crate) fn cargo_build_of(argv: &[String]) -> Option<Vec<String>> {
    if argv.first().map(String::as_str) != Some("cargo") {
        return None;
    }
    let run_at = 1 + usize::from(argv.get(1).is_some_and(|a| a.starts_with('+')));
    if argv.get(run_at).map(String::as_str) != Some("run") {
        return None;
    }
    let mut build: Vec<String> = argv
        .iter()
        .take_while(|a| *a != "--")
        .filter(|a| !matches!(a.as_str(), "-q" | "--quiet"))
        .cloned()
        .collect();
    build[run_at] = "build".into();
    Some(build)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn splits_commands() {
        assert_eq!(
            split_command("  cargo run -p x -- 127.0.0.1:9001 ").unwrap(),
            words(&["cargo", "run", "-p", "x", "--", "127.0.0.1:9001"])
        );
        assert_eq!(
            split_command(r#"sh -c 'echo "a b"' "c \"d\"" e\ f"#).unwrap(),
            words(&["sh", "-c", "echo \"a b\"", "c \"d\"", "e f"])
        );
        assert_eq!(split_command("a ''").unwrap(), words(&["a", ""]));
        assert!(split_command("a 'b").is_err());
        assert!(split_command("   ").is_err());
    }

    #[test]
    fn derives_cargo_build() {
        let run = words(&[
            "cargo",
            "run",
            "--release",
            "-q",
            "-p",
            "f",
            "--example",
            "e",
            "--",
            "x",
        ]);
        assert_eq!(
            cargo_build_of(&run).unwrap(),
            words(&["cargo", "build", "--release", "-p", "f", "--example", "e"])
        );
        let nightly = words(&["cargo", "+nightly", "run", "--bin", "b"]);
        assert_eq!(
            cargo_build_of(&nightly).unwrap(),
            words(&["cargo", "+nightly", "build", "--bin", "b"])
        );
        assert_eq!(cargo_build_of(&words(&["/tmp/server", "run"])), None);
        assert_eq!(cargo_build_of(&words(&["cargo", "test"])), None);
    }

    /// Starts a shell with two background sleeps and waits for them.
    fn sleepers() -> (Proc, PathBuf) {
        let log = std::env::temp_dir().join(format!(
            "xtask-proc-{}-{:?}.log",
            std::process::id(),
            thread::current().id()
        ));
        let argv = words(&["sh", "-c", "sleep 60 & sleep 60 & echo started; wait"]);
        let p = Proc::spawn("tree", &argv, Path::new("/"), &[], &log).unwrap();
        let start = Instant::now();
        while !fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("started")
        {
            assert!(start.elapsed() < Duration::from_secs(5));
            thread::sleep(Duration::from_millis(20));
        }
        (p, log)
    }

    #[test]
    fn stops_a_process_tree() {
        let (mut p, log) = sleepers();
        let group = p.child.id();
        assert!(group_signal("0", group));
        p.stop();
        assert!(p.exited().is_some());
        assert!(!group_signal("0", group));
        let _ = fs::remove_file(log);
    }

    #[test]
    fn watchdog_stops_the_group_when_the_xtask_is_gone() {
        let (mut p, log) = sleepers();
        let group = p.child.id();
        // What the kernel does when the xtask dies: the pipe closes.
        drop(p.watchdog.as_mut().unwrap().stdin.take());
        let start = Instant::now();
        while group_signal("0", group) {
            let _ = p.exited(); // reap the leader
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "group still alive"
            );
            thread::sleep(Duration::from_millis(50));
        }
        p.stop();
        let _ = fs::remove_file(log);
    }
}
