//! `cargo xtask interop`: permessage-deflate interop against real peers, the
//! decompression-bomb test, and the chat demo driven by two Chromium pages.
//!
//! 1. Installs the Python `websockets` package (pinned) into `target/interop/python`
//!    with pip (skipped when that version is there already).
//! 2. Finds Chromium (`$FERROSOCKET_INTEROP_CHROMIUM`, else `chromium`,
//!    `chromium-browser`, `google-chrome` on `PATH`); when none is found and we run
//!    as root with apt-get, installs the Debian package `chromium`.
//! 3. Runs `cargo test --release -p ferrosocket --test interop --test bomb --test
//!    chat_browser` with
//!    `FERROSOCKET_INTEROP_PYTHONPATH` / `FERROSOCKET_INTEROP_CHROMIUM` set for what
//!    was found. A peer that cannot be installed is not an error: its tests print
//!    `SKIPPED: ...` and pass; a failing test fails the run.
//!
//! The tests are in `crates/ferrosocket/tests/{interop,bomb,chat_browser}.rs`, the Python peer
//! and the browser page in `interop/`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{Result, root};

/// The websockets release the tests are pinned to (checked on PyPI: current in 2026).
const WEBSOCKETS: &str = "17.4";
const CHROMIUM_NAMES: &[&str] = &["chromium", "chromium-browser", "google-chrome"];

const USAGE: &str = "\
usage: cargo xtask interop [--no-install] [-- TEST-ARGS...]

Installs the Python websockets package into target/interop/python (pip) and, as
root, Chromium (apt-get install chromium) when missing, then runs
  cargo test --release -p ferrosocket --test interop --test bomb --test chat_browser -- --nocapture --test-threads=1
with FERROSOCKET_INTEROP_PYTHONPATH and FERROSOCKET_INTEROP_CHROMIUM set for the
peers found. Tests whose peer is missing print SKIPPED and pass.

options:
  --no-install   use only what is installed already
  -- ARGS        extra arguments for the test binaries (e.g. a test name filter)
environment: FERROSOCKET_INTEROP_PYTHON (interpreter, default python3),
FERROSOCKET_INTEROP_CHROMIUM (a Chromium binary to use instead of searching).";

pub(crate) fn run(args: &[String]) -> Result {
    let mut install = true;
    let mut test_args: Vec<String> = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--no-install" => install = false,
            "--" => test_args.extend(iter.by_ref().cloned()),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    let root = root();
    let started = Instant::now();
    let mut envs: Vec<(&str, String)> = Vec::new();

    let python = env::var("FERROSOCKET_INTEROP_PYTHON").unwrap_or_else(|_| "python3".into());
    match python_websockets(&root, &python, install) {
        Ok(dir) => {
            eprintln!(
                "interop: python websockets {WEBSOCKETS} in {}",
                dir.display()
            );
            envs.push(("FERROSOCKET_INTEROP_PYTHONPATH", dir.display().to_string()));
            envs.push(("FERROSOCKET_INTEROP_PYTHON", python));
        }
        Err(why) => eprintln!("interop: no Python websockets ({why}): its tests will be skipped"),
    }
    match chromium(install) {
        Ok(path) => {
            eprintln!("interop: chromium at {}", path.display());
            envs.push(("FERROSOCKET_INTEROP_CHROMIUM", path.display().to_string()));
        }
        Err(why) => eprintln!("interop: no Chromium ({why}): its test will be skipped"),
    }
    eprintln!(
        "interop: peers ready after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut cargo_args = vec![
        "test",
        "--release",
        "-p",
        "ferrosocket",
        "--test",
        "interop",
        "--test",
        "bomb",
        "--test",
        "chat_browser",
        "--",
        "--nocapture",
        "--test-threads=1",
    ];
    cargo_args.extend(test_args.iter().map(String::as_str));
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let tests_started = Instant::now();
    let result = crate::run("cargo", &cargo_args, &envs);
    eprintln!(
        "interop: tests {} in {:.1} s (whole run {:.1} s)",
        if result.is_ok() { "passed" } else { "FAILED" },
        tests_started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    result
}

/// Whether `program args` runs and exits 0 (its output discarded).
fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The directory holding websockets [`WEBSOCKETS`], installed there if needed.
fn python_websockets(root: &Path, python: &str, install: bool) -> Result<PathBuf> {
    let dir = root.join("target/interop/python");
    let marker = dir.join(format!("websockets-{WEBSOCKETS}.dist-info"));
    let version_ok = "import sys; sys.exit(sys.version_info < (3, 9))";
    if !succeeds(python, &["-c", version_ok]) {
        return Err(format!("{python} is missing or older than 3.9"));
    }
    if !marker.is_dir() {
        if !install {
            return Err(format!("not installed in {} (--no-install)", dir.display()));
        }
        let target = dir.display().to_string();
        let spec = format!("websockets=={WEBSOCKETS}");
        crate::run(
            python,
            &[
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "--upgrade",
                "--target",
                &target,
                &spec,
            ],
            &[("PIP_ROOT_USER_ACTION", "ignore")],
        )
        .map_err(|e| format!("pip install failed: {e}"))?;
    }
    let import = "import websockets.asyncio.server, websockets.asyncio.client";
    let status = Command::new(python)
        .args(["-c", import])
        .env("PYTHONPATH", &dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("websockets in {} does not import", dir.display()));
    }
    Ok(dir)
}

/// `name` on `PATH`.
fn which(name: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

fn find_chromium() -> Option<PathBuf> {
    CHROMIUM_NAMES
        .iter()
        .filter_map(|name| which(name))
        .find(|path| succeeds(&path.display().to_string(), &["--version"]))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// A Chromium binary: the one named by the environment, on `PATH`, or installed now.
fn chromium(install: bool) -> Result<PathBuf> {
    if let Some(path) = env::var_os("FERROSOCKET_INTEROP_CHROMIUM") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "FERROSOCKET_INTEROP_CHROMIUM={} is not a file",
                path.display()
            ))
        };
    }
    if let Some(path) = find_chromium() {
        return Ok(path);
    }
    if !install {
        return Err("not on PATH (--no-install)".into());
    }
    if !is_root() || which("apt-get").is_none() {
        return Err(
            "not on PATH; install the `chromium` package (as root with apt-get this runs it), \
             or set FERROSOCKET_INTEROP_CHROMIUM"
                .into(),
        );
    }
    let envs = [("DEBIAN_FRONTEND", "noninteractive")];
    let apt = ["install", "-y", "chromium"];
    if crate::run("apt-get", &apt, &envs).is_err() {
        // The package lists may be stale or absent on a fresh machine.
        crate::run("apt-get", &["update"], &envs)
            .and_then(|()| crate::run("apt-get", &apt, &envs))
            .map_err(|e| format!("apt-get could not install chromium: {e}"))?;
    }
    find_chromium().ok_or_else(|| "apt-get ran but no chromium binary was found".into())
}
