//! `cargo xtask interop`: permessage-deflate interop against real peers, the
//! decompression-bomb test, and the chat demo driven by two Chromium pages.
//!
//! 1. Installs the Python `websockets` package (pinned) into `target/interop/python`
//!    with pip (skipped when that version is there already).
//! 2. Finds Chromium (`$FERROSOCKET_INTEROP_CHROMIUM`, else `chromium`,
//!    `chromium-browser`, `google-chrome` on `PATH`); when none is found and we run
//!    as root with apt-get, installs the Debian package `chromium`.
//! 3. Runs `cargo test --release -p ferrosocket --features axum,smol,blocking --test interop --test bomb --test
//!    chat_browser -- --include-ignored` with
//!    `FERROSOCKET_INTEROP_PYTHONPATH` / `FERROSOCKET_INTEROP_CHROMIUM` set for what
//!    was found; a failing test fails the run.
//!
//! The peer tests are `#[ignore]`d, so the plain `cargo test --workspace` of `cargo
//! xtask ci` (which `.ci/run` runs first, before any peer is installed) lists them as
//! ignored; `--include-ignored` here is their one real run in CI.
//!
//! A peer that cannot be found or installed is an error: this task fails (non-zero
//! exit) before running the tests, and so does each test whose peer is missing. The
//! only way around it is explicit and only outside CI: `FERROSOCKET_SKIP_INTEROP=1`
//! makes this task go on without the peer and its tests print `SKIPPED: ...` and
//! pass. When `CI` is set (to anything but empty, `0` or `false`) that opt-out is
//! refused and a missing peer always fails the run.
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
/// The explicit opt-out (outside CI only) for a missing peer; the tests read it too
/// (`crates/ferrosocket/tests/common/mod.rs`).
const SKIP_ENV: &str = "FERROSOCKET_SKIP_INTEROP";

const USAGE: &str = "\
usage: cargo xtask interop [--no-install] [-- TEST-ARGS...]

Installs the Python websockets package into target/interop/python (pip) and, as
root, Chromium (apt-get install chromium) when missing, then runs
  cargo test --release -p ferrosocket --features axum,smol,blocking --test interop --test bomb --test chat_browser -- --include-ignored --nocapture --test-threads=1
with FERROSOCKET_INTEROP_PYTHONPATH and FERROSOCKET_INTEROP_CHROMIUM set for the
peers found (the peer tests are #[ignore]d in a plain cargo test).

A peer that cannot be found or installed fails the run, as does each test whose
peer is missing. To skip them instead, outside CI only, set
FERROSOCKET_SKIP_INTEROP=1: the run goes on and those tests print SKIPPED and
pass. With CI set (anything but empty, 0 or false) the opt-out is refused.

options:
  --no-install   use only what is installed already
  -- ARGS        extra arguments for the test binaries (e.g. a test name filter)
environment: FERROSOCKET_INTEROP_PYTHON (interpreter, default python3),
FERROSOCKET_INTEROP_CHROMIUM (a Chromium binary to use instead of searching),
FERROSOCKET_SKIP_INTEROP (the opt-out above), CI.";

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
    // Every missing peer, reported together before failing.
    let mut failures: Vec<String> = Vec::new();

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
        Err(why) => failures.extend(missing("Python websockets", &why).err()),
    }
    match chromium(install) {
        Ok(path) => {
            eprintln!("interop: chromium at {}", path.display());
            envs.push(("FERROSOCKET_INTEROP_CHROMIUM", path.display().to_string()));
        }
        Err(why) => failures.extend(missing("Chromium", &why).err()),
    }
    if !failures.is_empty() {
        return Err(failures.join("\n"));
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
        // chat_browser also runs the chat room mounted in axum (examples/axum_chat.rs)
        // and the chat example on smol and on threads.
        "--features",
        "axum,smol,blocking",
        "--test",
        "interop",
        "--test",
        "bomb",
        "--test",
        "chat_browser",
        "--",
        "--include-ignored",
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

/// Whether the environment variable `name` is set to something other than empty, `0`
/// or `false` (as `CI=true` is). The tests read `CI` and [`SKIP_ENV`] the same way.
fn flag(name: &str) -> bool {
    env::var(name).is_ok_and(|value| {
        let value = value.trim();
        !value.is_empty() && value != "0" && !value.eq_ignore_ascii_case("false")
    })
}

/// A peer could not be found or installed: an error, unless [`SKIP_ENV`] asks to go
/// on without it outside CI (its tests then skip, reading the same variables).
fn missing(peer: &str, why: &str) -> Result {
    if flag("CI") {
        let refused = if flag(SKIP_ENV) {
            format!(" ({SKIP_ENV} is refused when CI is set)")
        } else {
            String::new()
        };
        return Err(format!(
            "interop: no {peer} ({why}); CI is set, so this fails the run{refused}"
        ));
    }
    if flag(SKIP_ENV) {
        eprintln!("interop: no {peer} ({why}): {SKIP_ENV} is set, its tests will be skipped");
        return Ok(());
    }
    Err(format!(
        "interop: no {peer} ({why}); install it, or set {SKIP_ENV}=1 to skip its tests \
         explicitly (outside CI only)"
    ))
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
