//! `cargo xtask bench echo`: the end-to-end echo benchmark (`benches/echo`).
//!
//! Builds `ferrosocket-echo-bench` in release, then for each repeat, each cell
//! (connections x payload x messages in flight) and each server (order rotated per
//! repeat) starts a fresh `echo-server`, runs `echo-load` against it, reads the
//! server's peak RSS and kills it. Server and generator are pinned to the same
//! core. Then, once per cell and server, a short run under `strace -c` counts the
//! server's write syscalls, and once per server 10,000 idle connections measure
//! the RSS per connection. Prints a Markdown table and writes it to
//! `target/echo-bench/results.md`.

use std::collections::BTreeMap;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::{Result, root};

const USAGE: &str = "usage: cargo xtask bench echo [--quick] [--window SECS] [--warmup SECS] \
[--repeats N] [--servers a,b,...] [--cells CONNSxPAYLOADxK,...] [--idle N] [--no-idle] \
[--no-strace] [--core N] [--bin-dir DIR]

  servers: ferrosocket, ferrosocket-feed, tungstenite, fastwebsockets (default: all),
           ferrosocket-lowmem (ferrosocket asking for no context takeover either way and
           freeing its compression contexts between messages), and NAME-deflate for the
           ferrosocket ones (the load offering permessage-deflate without context
           takeover and sending pre-compressed JSON-like messages; for the idle figure,
           offering it as browsers do and sending one compressed message per connection;
           tungstenite 0.30 and fastwebsockets 0.10 have no permessage-deflate)
  cells:   e.g. 1x20Bx1,100x20Bx16,10x16KiBx16,1x1MiBx1 (payload in B, KiB or MiB)
  --quick: those four cells and a 2 s window (default: the full 24-cell matrix, 3 s)
  --bin-dir: use echo-server and echo-load from DIR instead of building them";

const ALL_SERVERS: &[&str] = &[
    "ferrosocket",
    "ferrosocket-feed",
    "tungstenite",
    "fastwebsockets",
];
/// Servers that may be named besides [`ALL_SERVERS`] (not run by default).
const EXTRA_SERVERS: &[&str] = &["ferrosocket-lowmem"];
const QUICK_CELLS: &str = "1x20Bx1,100x20Bx16,10x16KiBx16,1x1MiBx1";
const WRITE_SYSCALLS: &[&str] = &["write", "writev", "sendto", "sendmsg"];

/// One cell of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Cell {
    conns: usize,
    payload: usize,
    inflight: usize,
}

impl Cell {
    fn parse(spec: &str) -> Result<Self> {
        let parts: Vec<&str> = spec.trim().split('x').collect();
        let [conns, payload, inflight] = parts[..] else {
            return Err(format!("bad cell {spec:?}: expected CONNSxPAYLOADxK"));
        };
        let (digits, unit) = payload.split_at(
            payload
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(payload.len()),
        );
        let scale = match unit {
            "" | "B" => 1,
            "K" | "KiB" => 1024,
            "M" | "MiB" => 1 << 20,
            _ => return Err(format!("bad payload unit in {spec:?}")),
        };
        let number = |s: &str| s.parse::<usize>().map_err(|e| format!("{spec:?}: {e}"));
        let cell = Self {
            conns: number(conns)?,
            payload: number(digits)? * scale,
            inflight: number(inflight)?,
        };
        if cell.conns == 0 || cell.inflight == 0 {
            return Err(format!("{spec:?}: connections and K must be at least 1"));
        }
        Ok(cell)
    }

    fn label(&self) -> String {
        let p = self.payload;
        let payload = if p >= 1 << 20 && p.is_multiple_of(1 << 20) {
            format!("{} MiB", p >> 20)
        } else if p >= 1024 && p.is_multiple_of(1024) {
            format!("{} KiB", p >> 10)
        } else {
            format!("{p} B")
        };
        format!("{} conn x {payload} x K={}", self.conns, self.inflight)
    }
}

#[derive(Debug)]
struct Options {
    window: f64,
    warmup: f64,
    repeats: usize,
    servers: Vec<String>,
    cells: Vec<Cell>,
    idle: Option<usize>,
    strace: bool,
    core: usize,
    bin_dir: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut quick = false;
    let mut window = None;
    let mut cells = None;
    let mut o = Options {
        window: 3.0,
        warmup: 1.0,
        repeats: 5,
        servers: ALL_SERVERS.iter().map(|s| s.to_string()).collect(),
        cells: Vec::new(),
        idle: Some(10_000),
        strace: true,
        core: 1,
        bin_dir: None,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        let number = |s: String| s.parse::<f64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--quick" => quick = true,
            "--window" => window = Some(number(value()?)?),
            "--warmup" => o.warmup = number(value()?)?,
            "--repeats" => o.repeats = number(value()?)? as usize,
            "--servers" => {
                o.servers = value()?.split(',').map(|s| s.trim().to_string()).collect();
                if let Some(bad) = o.servers.iter().find(|s| {
                    let imp = server_impl(s);
                    !ALL_SERVERS.contains(&imp) && !EXTRA_SERVERS.contains(&imp)
                }) {
                    return Err(format!("unknown server {bad:?}\n{USAGE}"));
                }
            }
            "--cells" => cells = Some(value()?),
            "--idle" => o.idle = Some(number(value()?)? as usize),
            "--no-idle" => o.idle = None,
            "--no-strace" => o.strace = false,
            "--core" => o.core = number(value()?)? as usize,
            "--bin-dir" => o.bin_dir = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(USAGE.into()),
            _ => return Err(format!("unknown argument {flag:?}\n{USAGE}")),
        }
    }
    o.window = window.unwrap_or(if quick { 2.0 } else { 3.0 });
    o.cells = match cells {
        Some(list) => list.split(',').map(Cell::parse).collect::<Result<_>>()?,
        None if quick => QUICK_CELLS
            .split(',')
            .map(Cell::parse)
            .collect::<Result<_>>()?,
        None => {
            let mut all = Vec::new();
            for conns in [1, 10, 100] {
                for payload in [20, 1024, 16 << 10, 1 << 20] {
                    for inflight in [1, 16] {
                        all.push(Cell {
                            conns,
                            payload,
                            inflight,
                        });
                    }
                }
            }
            all
        }
    };
    if o.repeats == 0 || o.servers.is_empty() || o.window <= 0.0 {
        return Err(format!("nothing to measure\n{USAGE}"));
    }
    Ok(o)
}

/// One measurement of one server in one cell.
#[derive(Debug, Clone, Copy)]
struct Sample {
    rate: f64,
    cpu_us_per_msg: f64,
    kernel_share: f64,
    hwm_kib: u64,
}

/// The tools found on the machine.
#[derive(Debug)]
struct Env {
    server: PathBuf,
    load: PathBuf,
    /// `taskset -c CORE`, if taskset is there.
    pin: Option<String>,
    clk_tck: f64,
}

pub(crate) fn run(args: &[String]) -> Result {
    let o = parse(args)?;
    let env = setup(&o)?;
    let out_dir = target_dir().join("echo-bench");
    fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let started = Instant::now();

    let mut samples: BTreeMap<(Cell, String), Vec<Option<Sample>>> = BTreeMap::new();
    let total = o.repeats * o.cells.len() * o.servers.len();
    let mut done = 0;
    for repeat in 0..o.repeats {
        for cell in &o.cells {
            for i in 0..o.servers.len() {
                let server = &o.servers[(i + repeat) % o.servers.len()];
                done += 1;
                let sample = measure(&env, &o, server, *cell);
                match &sample {
                    Ok(s) => eprintln!(
                        "[{done}/{total}] repeat {} {} {server}: {:.0} msgs/s, {:.2} us/msg",
                        repeat + 1,
                        cell.label(),
                        s.rate,
                        s.cpu_us_per_msg
                    ),
                    Err(e) => eprintln!(
                        "[{done}/{total}] repeat {} {} {server}: FAILED: {e}",
                        repeat + 1,
                        cell.label()
                    ),
                }
                samples
                    .entry((*cell, server.clone()))
                    .or_default()
                    .push(sample.ok());
            }
        }
    }

    let mut notes = Vec::new();
    let strace = if o.strace {
        find_strace()
    } else {
        Err("not asked for".into())
    };
    let mut writes: BTreeMap<(Cell, String), f64> = BTreeMap::new();
    match &strace {
        Ok(()) => {
            for cell in &o.cells {
                for server in &o.servers {
                    match count_writes(&env, server, *cell, &out_dir) {
                        Ok(w) => {
                            eprintln!("strace {} {server}: {w:.3} writes/msg", cell.label());
                            writes.insert((*cell, server.clone()), w);
                        }
                        Err(e) => eprintln!("strace {} {server}: FAILED: {e}", cell.label()),
                    }
                }
            }
        }
        Err(e) => notes.push(format!("writes/msg not measured: {e}.")),
    }

    let mut idle = BTreeMap::new();
    if let Some(n) = o.idle {
        for server in &o.servers {
            match idle_rss(&env, server, n) {
                Ok(bytes) => {
                    eprintln!("idle {server}: {bytes:.0} bytes/connection");
                    idle.insert(server.clone(), bytes);
                }
                Err(e) => eprintln!("idle {server}: FAILED: {e}"),
            }
        }
    }
    if env.pin.is_none() {
        notes.push("taskset not found: server and generator were NOT pinned.".into());
    }

    let report = render(
        &o,
        &env,
        &samples,
        &writes,
        o.idle.map(|n| (n, &idle)),
        &notes,
    );
    print!("{report}");
    let path = out_dir.join("results.md");
    fs::write(&path, &report).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!(
        "wrote {} ({:.0} s)",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn target_dir() -> PathBuf {
    env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn setup(o: &Options) -> Result<Env> {
    let bin_dir = match &o.bin_dir {
        Some(dir) => dir.clone(),
        None => {
            crate::run(
                "cargo",
                &["build", "--release", "-p", "ferrosocket-echo-bench"],
                &[],
            )?;
            target_dir().join("release")
        }
    };
    let (server, load) = (bin_dir.join("echo-server"), bin_dir.join("echo-load"));
    for bin in [&server, &load] {
        if !bin.is_file() {
            return Err(format!("{} not found", bin.display()));
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let core = if o.core < cores { o.core } else { 0 };
    let pin = works("taskset", &["-c", &core.to_string(), "true"]).then(|| core.to_string());
    let clk_tck = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
        .unwrap_or(100.0);
    Ok(Env {
        server,
        load,
        pin,
        clk_tck,
    })
}

/// Whether `program args` runs and succeeds (quietly).
fn works(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// strace, installed with apt-get if missing and possible.
fn find_strace() -> Result {
    if works("strace", &["-V"]) {
        return Ok(());
    }
    if !works("apt-get", &["--version"]) {
        return Err("strace is missing and apt-get is not available".into());
    }
    eprintln!("$ apt-get install -y strace");
    let ok = Command::new("apt-get")
        .args(["install", "-y", "strace"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .is_ok_and(|s| s.success());
    if ok && works("strace", &["-V"]) {
        Ok(())
    } else {
        Err("strace is missing and `apt-get install -y strace` failed".into())
    }
}

/// A command run through `sh` with the soft file limit raised to the hard one,
/// pinned if taskset is there.
fn wrapped(env: &Env, prefix: &[&str], program: &Path) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        r#"ulimit -Sn "$(ulimit -Hn)" 2>/dev/null; exec "$@""#,
        "sh",
    ]);
    if let Some(core) = &env.pin {
        cmd.args(["taskset", "-c", core]);
    }
    cmd.args(prefix).arg(program);
    cmd
}

/// A running `echo-server`, killed on drop.
#[derive(Debug)]
struct Server {
    child: Child,
    /// The server process itself (not the wrappers', not strace's).
    pid: u32,
    port: u16,
}

impl Server {
    fn start(env: &Env, imp: &str, prefix: &[&str]) -> Result<Self> {
        let mut child = wrapped(env, prefix, &env.server)
            .args(["--impl", server_impl(imp), "--addr", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start echo-server: {e}"))?;
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped");
        let read = BufReader::new(stdout).read_line(&mut line);
        let port = match read.map(|_| line.trim().parse::<u16>()) {
            Ok(Ok(port)) => port,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "echo-server --impl {imp} printed no port: {line:?}"
                ));
            }
        };
        let mut server = Self {
            pid: child.id(),
            child,
            port,
        };
        server.pid = find_process(server.child.id(), "echo-server")
            .ok_or("cannot find the echo-server process")?;
        Ok(server)
    }

    fn status_kib(&self, field: &str) -> Result<u64> {
        status_kib(self.pid, field)
    }

    /// Kills the server process (strace, if any, then ends by itself).
    fn stop(mut self) -> Result {
        let _ = Command::new("kill")
            .args(["-KILL", &self.pid.to_string()])
            .status();
        // Under strace, the child is strace: it writes its summary and exits.
        wait_deadline(&mut self.child, Duration::from_secs(20))?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-KILL", &self.pid.to_string()])
                .status();
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `pid` or its first descendant whose command name is `name`.
fn find_process(pid: u32, name: &str) -> Option<u32> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut queue = vec![pid];
        while let Some(p) = queue.pop() {
            let comm = fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            if comm.trim() == name {
                return Some(p);
            }
            queue.extend(children(p));
        }
        if Instant::now() > deadline {
            return None;
        }
        sleep(Duration::from_millis(10));
    }
}

fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            let stat = fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            let ppid = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().nth(1)?.parse::<u32>().ok());
            ppid == Some(pid)
        })
        .collect()
}

fn status_kib(pid: u32, field: &str) -> Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/{pid}/status"))
}

fn wait_deadline(child: &mut Child, limit: Duration) -> Result<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {} s", limit.as_secs()));
        }
        sleep(Duration::from_millis(20));
    }
}

/// Runs `echo-load` (pinned like the server) and returns its `key=value` pairs.
fn load(env: &Env, args: &[String], limit: Duration) -> Result<BTreeMap<String, String>> {
    let mut child = wrapped(env, &[], &env.load)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start echo-load: {e}"))?;
    let status = wait_deadline(&mut child, limit)?;
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!(
            "echo-load failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

fn field<T: std::str::FromStr>(kv: &BTreeMap<String, String>, key: &str) -> Result<T> {
    kv.get(key)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("echo-load printed no {key}"))
}

/// The `echo-server --impl` of a server name: `NAME-deflate` is `NAME` loaded with
/// permessage-deflate.
fn server_impl(server: &str) -> &str {
    server.strip_suffix("-deflate").unwrap_or(server)
}

fn load_args(
    imp: &str,
    cell: Cell,
    port: u16,
    warmup: f64,
    window: f64,
    pid: Option<u32>,
) -> Vec<String> {
    let mut args: Vec<String> = [
        "--addr".to_string(),
        format!("127.0.0.1:{port}"),
        "--conns".into(),
        cell.conns.to_string(),
        "--payload".into(),
        cell.payload.to_string(),
        "--inflight".into(),
        cell.inflight.to_string(),
        "--warmup".into(),
        warmup.to_string(),
        "--window".into(),
        window.to_string(),
    ]
    .into();
    if let Some(pid) = pid {
        args.extend(["--server-pid".into(), pid.to_string()]);
    }
    if server_impl(imp) != imp {
        args.push("--deflate".into());
    }
    args
}

fn load_limit(warmup: f64, window: f64) -> Duration {
    Duration::from_secs_f64(warmup + window + 60.0)
}

fn measure(env: &Env, o: &Options, imp: &str, cell: Cell) -> Result<Sample> {
    let server = Server::start(env, imp, &[])?;
    let args = load_args(imp, cell, server.port, o.warmup, o.window, Some(server.pid));
    let kv = load(env, &args, load_limit(o.warmup, o.window))?;
    let hwm_kib = server.status_kib("VmHWM:")?;
    server.stop()?;
    let msgs: f64 = field(&kv, "msgs")?;
    let secs: f64 = field(&kv, "secs")?;
    let utime: f64 = field(&kv, "utime")?;
    let stime: f64 = field(&kv, "stime")?;
    let cpu = (utime + stime) / env.clk_tck;
    Ok(Sample {
        rate: msgs / secs,
        cpu_us_per_msg: cpu * 1e6 / msgs,
        kernel_share: if utime + stime > 0.0 {
            stime / (utime + stime)
        } else {
            0.0
        },
        hwm_kib,
    })
}

/// A short run under `strace -c`: the server's write syscalls per echoed message.
fn count_writes(env: &Env, imp: &str, cell: Cell, out_dir: &Path) -> Result<f64> {
    let file = out_dir.join(format!(
        "strace-{}x{}x{}-{imp}.txt",
        cell.conns, cell.payload, cell.inflight
    ));
    let _ = fs::remove_file(&file);
    let file_arg = file.to_string_lossy().into_owned();
    let trace = format!("trace={}", WRITE_SYSCALLS.join(","));
    let prefix = ["strace", "-c", "-f", "-e", &trace, "-o", &file_arg];
    let server = Server::start(env, imp, &prefix)?;
    let (warmup, window) = (0.2, 1.0);
    let args = load_args(imp, cell, server.port, warmup, window, None);
    let kv = load(env, &args, load_limit(warmup, window));
    server.stop()?;
    let kv = kv?;
    let total: f64 = field(&kv, "total")?;
    let summary = fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let calls: f64 = summary
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let name = cols.last()?;
            (cols.len() >= 5 && WRITE_SYSCALLS.contains(name))
                .then(|| cols[3].parse::<f64>().ok())
                .flatten()
        })
        .sum();
    if total == 0.0 {
        return Err("no message echoed".into());
    }
    Ok(calls / total)
}

/// The server's RSS growth per idle connection, in bytes.
fn idle_rss(env: &Env, imp: &str, n: usize) -> Result<f64> {
    let server = Server::start(env, imp, &[])?;
    let mut args = vec![
        "--addr".to_string(),
        format!("127.0.0.1:{}", server.port),
        "--idle".into(),
        n.to_string(),
        "--server-pid".into(),
        server.pid.to_string(),
    ];
    if server_impl(imp) != imp {
        // Compressing connections: each has sent one compressed message.
        args.push("--deflate".into());
    }
    let kv = load(env, &args, Duration::from_secs(120));
    server.stop()?;
    let kv = kv?;
    let before: f64 = field(&kv, "rss_before_kib")?;
    let after: f64 = field(&kv, "rss_after_kib")?;
    Ok((after - before) * 1024.0 / n as f64)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// `median [min-max]`, formatted by `f`.
fn spread(mut values: Vec<f64>, f: impl Fn(f64) -> String) -> String {
    if values.is_empty() {
        return "error".into();
    }
    let m = median(&mut values);
    let (lo, hi) = (values[0], values[values.len() - 1]);
    format!("{} [{}–{}]", f(m), f(lo), f(hi))
}

fn rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2}M", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.1}k", r / 1e3)
    } else {
        format!("{r:.0}")
    }
}

type Samples = BTreeMap<(Cell, String), Vec<Option<Sample>>>;

fn render(
    o: &Options,
    env: &Env,
    samples: &Samples,
    writes: &BTreeMap<(Cell, String), f64>,
    idle: Option<(usize, &BTreeMap<String, f64>)>,
    notes: &[String],
) -> String {
    let mut s = String::new();
    let pin = env
        .pin
        .as_ref()
        .map_or("not pinned".to_string(), |c| format!("`taskset -c {c}`"));
    let _ = writeln!(
        s,
        "End-to-end echo, 127.0.0.1, server and load generator on one core ({pin}); \
         {} repeats of a {} s window after a {} s warm-up, a fresh server per \
         measurement, servers interleaved. Binary messages; K = messages in flight \
         per connection. msgs/s: median [min–max]; \"vs X\": this server's msgs/s / \
         X's in the same repeat, median [min–max] (> 1: faster); CPU: the server's \
         utime + stime per message over the window, kernel = stime share; writes/msg: \
         write/writev/sendto/sendmsg calls per message in a separate 1 s run under \
         `strace -c -f`; peak RSS: the server's VmHWM, median.\n",
        o.repeats, o.window, o.warmup
    );
    let _ = write!(s, "| cell | server | msgs/s |");
    for peer in &o.servers {
        let _ = write!(s, " vs {peer} |");
    }
    let _ = writeln!(s, " CPU µs/msg | kernel | writes/msg | peak RSS |");
    let _ = write!(s, "|---|---|---:|");
    for _ in &o.servers {
        let _ = write!(s, "---:|");
    }
    let _ = writeln!(s, "---:|---:|---:|---:|");
    for cell in &o.cells {
        for server in &o.servers {
            let empty = Vec::new();
            let mine = samples.get(&(*cell, server.clone())).unwrap_or(&empty);
            let ok: Vec<Sample> = mine.iter().flatten().copied().collect();
            let _ = write!(
                s,
                "| {} | {server} | {} |",
                cell.label(),
                spread(ok.iter().map(|x| x.rate).collect(), rate)
            );
            for peer in &o.servers {
                if peer == server {
                    let _ = write!(s, " — |");
                    continue;
                }
                let theirs = samples.get(&(*cell, peer.clone())).unwrap_or(&empty);
                let ratios: Vec<f64> = mine
                    .iter()
                    .zip(theirs)
                    .filter_map(|(a, b)| Some(a.as_ref()?.rate / b.as_ref()?.rate))
                    .collect();
                let _ = write!(s, " {} |", spread(ratios, |r| format!("{r:.2}")));
            }
            let mut cpu: Vec<f64> = ok.iter().map(|x| x.cpu_us_per_msg).collect();
            let mut kernel: Vec<f64> = ok.iter().map(|x| x.kernel_share).collect();
            let mut hwm: Vec<f64> = ok.iter().map(|x| x.hwm_kib as f64).collect();
            let (cpu, kernel, hwm) = if ok.is_empty() {
                ("error".into(), "error".into(), "error".into())
            } else {
                (
                    format!("{:.2}", median(&mut cpu)),
                    format!("{:.0}%", median(&mut kernel) * 100.0),
                    format!("{:.1} MiB", median(&mut hwm) / 1024.0),
                )
            };
            let w = writes
                .get(&(*cell, server.clone()))
                .map_or("–".to_string(), |w| format!("{w:.2}"));
            let _ = writeln!(s, " {cpu} | {kernel} | {w} | {hwm} |");
        }
    }
    if let Some((n, idle)) = idle {
        let list: Vec<String> = o
            .servers
            .iter()
            .map(|server| match idle.get(server) {
                Some(b) => format!("{server} {:.1} KiB", b / 1024.0),
                None => format!("{server} error"),
            })
            .collect();
        let _ = writeln!(
            s,
            "\nServer RSS per idle connection ({n} connections, handshake done, VmRSS \
             delta / {n}; for NAME-deflate each connection offered permessage-deflate as \
             a browser does and had one compressed message echoed): {}.",
            list.join(", ")
        );
    }
    for note in notes {
        let _ = writeln!(s, "\n{note}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::{Cell, median};

    #[test]
    fn cells_parse() {
        let c = Cell::parse("10x16KiBx16").unwrap();
        assert_eq!((c.conns, c.payload, c.inflight), (10, 16384, 16));
        assert_eq!(Cell::parse("1x1MiBx1").unwrap().payload, 1 << 20);
        assert_eq!(Cell::parse("1x20x1").unwrap().payload, 20);
        assert!(Cell::parse("1x20").is_err());
        assert_eq!(c.label(), "10 conn x 16 KiB x K=16");
    }

    #[test]
    fn median_even_and_odd() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
