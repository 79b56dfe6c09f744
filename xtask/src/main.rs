//! Project automation, run as `cargo xtask <task>` (the alias is in
//! `.cargo/config.toml`). Standard library only, so it builds in a second.
//!
//! Tasks:
//! - `ci`: the checks CI runs (`.ci/run` calls this): fmt, clippy, tests, the
//!   `no_std` codec build, and a build of the fuzz targets.
//! - `fuzz [SECONDS] [TARGET...]`: installs cargo-fuzz if missing and runs each
//!   target (default: all) for SECONDS (default 60) on the nightly toolchain if
//!   present, else with `RUSTC_BOOTSTRAP=1`.
//! - `bench [BENCH...]`: runs the criterion benches, then `bench-report`.
//! - `bench-report [GROUP-PREFIX]`: medians from `target/criterion` with ratios
//!   against the baselines in each group (copy, std, simdutf8, tungstenite,
//!   fastwebsockets); ratio = baseline time / this time, so > 1 means faster.
//! - `autobahn [--server-only|--client-only] [--cases PATTERN,...] [--update-expected]
//!   [--testee NAME]`: installs wstest into `target/autobahn-env`, runs the
//!   Autobahn|Testsuite against our server and client testees and diffs the
//!   results against `autobahn/expected-results.json` (see `autobahn/README.md`).
#![forbid(unsafe_code)]

mod autobahn;
mod echo;
mod interop;

use std::collections::BTreeMap;
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// Every target in fuzz/fuzz_targets (`cargo xtask fuzz SECONDS` runs them all).
const FUZZ_TARGETS: &[&str] = &[
    "codec_decode",
    "mask_diff",
    "utf8_stream",
    "handshake_request",
    "handshake_response",
    "proto_client",
    "proto_server",
    "deflate_inflate",
    "deflate_negotiate",
    "delimit_stream",
];
const BASELINES: &[&str] = &[
    "copy",
    "reads_only",
    "word",
    "std",
    "simdutf8",
    "ferrosocket",
    "tungstenite",
    "fastwebsockets",
];

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("fuzz") => fuzz(&args[1..]),
        Some("bench") if args.get(1).map(String::as_str) == Some("echo") => echo::run(&args[2..]),
        Some("bench") => bench(&args[1..]),
        Some("autobahn") => autobahn::run(&args[1..]),
        Some("interop") => interop::run(&args[1..]),
        Some("bench-report") => bench_report(args.get(1).map(String::as_str).unwrap_or("")),
        _ => Err("usage: cargo xtask <ci | fuzz [SECONDS] [TARGET...] | bench [BENCH...] | bench echo [--quick] [--help] | bench-report [GROUP] | autobahn [--help] | interop [--help]>".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Runs a command in the workspace root, echoing it; fails on a non-zero exit.
fn run(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed: {status}", args.join(" ")))
    }
}

fn ci() -> Result {
    run("cargo", &["fmt", "--all", "--check"], &[])?;
    run(
        "cargo",
        &["fmt", "--manifest-path", "fuzz/Cargo.toml", "--check"],
        &[],
    )?;
    run(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    run(
        "cargo",
        &["test", "--workspace", "--all-features", "--locked"],
        &[],
    )?;
    // Users can pick only the codec, or the sans-IO core, without std.
    for krate in ["ferrosocket-codec", "ferrosocket-proto"] {
        run(
            "cargo",
            &["build", "-p", krate, "--no-default-features", "--locked"],
            &[],
        )?;
    }
    // The sans-IO core stays free of I/O, TLS and runtimes.
    proto_is_sans_io()?;
    // The fuzz targets must keep compiling (their own workspace, stable toolchain).
    run(
        "cargo",
        &[
            "clippy",
            "--manifest-path",
            "fuzz/Cargo.toml",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    Ok(())
}

/// Fails when `ferrosocket-proto`'s normal dependencies (all features) include a
/// runtime, a TLS stack or a futures crate: those belong to the engine.
fn proto_is_sans_io() -> Result {
    let tree = proto_tree(&["-e", "normal", "--all-features"])?;
    let forbidden = [
        "rustls", "ring", "webpki", "tokio", "futures", "async-", "smol", "mio",
    ];
    let found: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| forbidden.iter().any(|f| name.starts_with(f)))
        .collect();
    if !found.is_empty() {
        return Err(format!(
            "ferrosocket-proto depends on {}: move that to the engine (ferrosocket-io)",
            found.join(", ")
        ));
    }
    println!("ferrosocket-proto is sans-IO: no runtime, TLS or futures dependency");
    proto_is_no_std()
}

/// `cargo tree -p ferrosocket-proto` with `args`, one crate (or feature) per line.
fn proto_tree(args: &[&str]) -> Result<String> {
    let out = Command::new("cargo")
        .args([
            "tree",
            "-p",
            "ferrosocket-proto",
            "--prefix",
            "none",
            "--locked",
        ])
        .args(args)
        .output()
        .map_err(|e| format!("cargo tree: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`cargo tree -p ferrosocket-proto {}` failed",
            args.join(" ")
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Only the host target is installable here, so the `no_std` + `alloc` build is
/// checked in two halves: the `--no-default-features` build above compiles proto
/// under `#![no_std]`, and this finds any dependency that would still enable
/// its `std` feature (which would fail on a target without std).
fn proto_is_no_std() -> Result {
    let tree = proto_tree(&["-e", "normal,features", "--no-default-features"])?;
    let mut with_std: Vec<&str> = tree
        .lines()
        .filter(|line| line.contains("feature \"std\""))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    with_std.sort_unstable();
    with_std.dedup();
    if with_std.is_empty() {
        println!("ferrosocket-proto without default features enables no dependency's std");
        Ok(())
    } else {
        Err(format!(
            "ferrosocket-proto --no-default-features enables std in {}: it must stay no_std + alloc",
            with_std.join(", ")
        ))
    }
}

fn has_nightly() -> bool {
    Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn fuzz(args: &[String]) -> Result {
    let (seconds, targets): (u64, Vec<&str>) = match args.first().and_then(|s| s.parse().ok()) {
        Some(s) => (s, args[1..].iter().map(String::as_str).collect()),
        None => (60, args.iter().map(String::as_str).collect()),
    };
    let targets = if targets.is_empty() {
        FUZZ_TARGETS.to_vec()
    } else {
        targets
    };
    let have_fuzz = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .map(|o| o.status.success());
    if !have_fuzz.unwrap_or(false) {
        run("cargo", &["install", "cargo-fuzz", "--locked"], &[])?;
    }
    let nightly = has_nightly();
    let max_time = format!("-max_total_time={seconds}");
    for target in targets {
        let corpus = format!("fuzz/corpus/{target}");
        fs::create_dir_all(root().join(&corpus)).map_err(|e| e.to_string())?;
        let mut args = vec![];
        if nightly {
            args.push("+nightly");
        }
        args.extend([
            "fuzz",
            "run",
            target,
            &corpus,
            "--",
            &max_time,
            "-print_final_stats=1",
        ]);
        let envs: &[(&str, &str)] = if nightly {
            &[]
        } else {
            &[("RUSTC_BOOTSTRAP", "1")]
        };
        run("cargo", &args, envs)?;
    }
    Ok(())
}

fn bench(args: &[String]) -> Result {
    let mut cargo_args = vec!["bench", "-p", "ferrosocket-benches"];
    for b in args {
        cargo_args.extend(["--bench", b.as_str()]);
    }
    cargo_args.extend(["--", "--noplot"]);
    run("cargo", &cargo_args, &[])?;
    bench_report("")
}

/// One criterion result: median nanoseconds per iteration and its throughput unit.
struct Estimate {
    median_ns: f64,
    throughput: Option<(&'static str, f64)>,
}

/// The number after `"key":` (skipping whitespace), searching from `from`.
fn number_after(text: &str, key: &str, from: usize) -> Option<(f64, usize)> {
    let at = from + text[from..].find(&format!("\"{key}\""))?;
    let rest = &text[at + key.len() + 2..];
    let rest_trim = rest.trim_start_matches([':', ' ', '\n', '\t', '{']);
    let end = rest_trim.find(|c: char| !(c.is_ascii_digit() || ".eE+-".contains(c)))?;
    Some((rest_trim[..end].parse().ok()?, at))
}

fn string_after(text: &str, key: &str) -> Option<String> {
    let at = text.find(&format!("\"{key}\""))?;
    let rest = text[at + key.len() + 2..].trim_start_matches([':', ' ']);
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

fn bench_report(prefix: &str) -> Result {
    let dir = root().join("target/criterion");
    let mut found = Vec::new();
    collect_estimates(&dir, &mut found);
    // group -> parameter -> function -> estimate
    let mut groups: BTreeMap<String, BTreeMap<String, BTreeMap<String, Estimate>>> =
        BTreeMap::new();
    for path in found {
        let new_dir = path.parent().expect("new/estimates.json");
        let (Ok(est), Ok(meta)) = (
            fs::read_to_string(&path),
            fs::read_to_string(new_dir.join("benchmark.json")),
        ) else {
            continue;
        };
        let Some(group) = string_after(&meta, "group_id") else {
            continue;
        };
        if !group.starts_with(prefix) {
            continue;
        }
        let function = string_after(&meta, "function_id").unwrap_or_default();
        let value = string_after(&meta, "value_str").unwrap_or_default();
        let Some(median_at) = est.find("\"median\"") else {
            continue;
        };
        let Some((median_ns, _)) = number_after(&est, "point_estimate", median_at) else {
            continue;
        };
        let throughput = number_after(&meta, "Bytes", 0)
            .map(|(n, _)| ("bytes", n))
            .or_else(|| number_after(&meta, "Elements", 0).map(|(n, _)| ("elements", n)));
        let (function, value) = if function.is_empty() {
            (value, String::new())
        } else {
            (function, value)
        };
        groups
            .entry(group)
            .or_default()
            .entry(value)
            .or_default()
            .insert(
                function,
                Estimate {
                    median_ns,
                    throughput,
                },
            );
    }
    if groups.is_empty() {
        return Err(format!(
            "no criterion results under {} (run `cargo xtask bench` first)",
            dir.display()
        ));
    }
    for (group, params) in &groups {
        println!("{group}");
        let mut params: Vec<_> = params.iter().collect();
        params.sort_by_key(|(p, _)| p.parse::<u64>().unwrap_or(0));
        for (param, functions) in params {
            for (function, e) in functions {
                let rate = match e.throughput {
                    Some(("bytes", n)) => format!("{:>8.2} GB/s", n / e.median_ns),
                    Some((_, n)) => format!("{:>8.2} ns/elem", e.median_ns / n),
                    None => String::new(),
                };
                let mut ratios = String::new();
                for base in BASELINES {
                    if let Some(b) = functions.get(*base).filter(|_| base != function) {
                        ratios.push_str(&format!("  {:.2}x vs {base}", b.median_ns / e.median_ns));
                    }
                }
                println!(
                    "  {param:>8} {function:<20} {:>14} {rate}{ratios}",
                    format_ns(e.median_ns)
                );
            }
        }
    }
    Ok(())
}

fn format_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn collect_estimates(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "new") {
                let est = path.join("estimates.json");
                if est.is_file() {
                    out.push(est);
                }
            } else {
                collect_estimates(&path, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fuzz_targets_list_every_target_file() {
        let dir = super::root().join("fuzz/fuzz_targets");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|n| n.strip_suffix(".rs").map(str::to_owned))
            .collect();
        files.sort();
        let mut listed: Vec<String> = super::FUZZ_TARGETS.iter().map(|s| s.to_string()).collect();
        listed.sort();
        assert_eq!(files, listed);
    }
}
