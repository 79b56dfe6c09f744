//! `cargo xtask autobahn`: the Autobahn|Testsuite conformance run.
//!
//! 1. Installs `wstest` (idempotent) into `target/autobahn-env` ([`install`]).
//! 2. Server role: starts our echo server, runs `wstest -m fuzzingclient`
//!    against it, stops the server.
//! 3. Client role: starts `wstest -m fuzzingserver`, runs our client testee
//!    against it (which asks wstest to write the report at the end), stops
//!    wstest.
//! 4. Summarizes each `index.json` ([`report`]) and diffs it against
//!    `autobahn/expected-results.json`: a case worse than expected, or missing,
//!    fails the run. `--update-expected` rewrites that file from the results.
//!
//! Every process it starts is stopped, with its descendants, when a role ends
//! or the run fails. `autobahn/README.md` has the details.

mod control;
mod install;
mod json;
mod proc;
mod report;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use json::Value;
use proc::Proc;
use report::{AgentReport, Expected};

type Result<T = ()> = std::result::Result<T, String>;

const USAGE: &str = "\
usage: cargo xtask autobahn [OPTIONS]

Installs wstest into target/autobahn-env, runs the Autobahn|Testsuite against
our server (wstest -m fuzzingclient) and our client (wstest -m fuzzingserver),
and diffs the results against autobahn/expected-results.json.

options:
  --role server|client|all
                         which roles to run (default all): server = our server is the
                         testee, client = our client is the testee
  --runtime tokio|async-std|smol|blocking|app
                         the facade's testee examples for that runtime (default tokio);
                         app: the application layer's Handler echo (server role only)
  --server-only          same as --role server
  --client-only          same as --role client
  --cases PATTERN,...    wstest case patterns instead of the spec's, e.g. 1.*,2.*,9.1.1
                         (`*` matches any text; 1.* does not select 10.*)
  --update-expected      rewrite autobahn/expected-results.json from this run's results
                         (only the roles and cases that ran)
  --expected FILE        expectations file (default autobahn/expected-results.json)
  --testee NAME          agent name the testees report under (default ferrosocket); it is
                         the fuzzingclient agent and is passed to both testees as $AUTOBAHN_AGENT
  --server-cmd CMD       server testee, must listen on 127.0.0.1:9001 (default:
                         cargo run --release -p ferrosocket --example echo_server -- 127.0.0.1:9001)
  --client-cmd CMD       client testee, gets ws://127.0.0.1:9002 (default:
                         cargo run --release -p ferrosocket --example autobahn_client -- ws://127.0.0.1:9002)
  --timeout SECS         limit for each role's test run (default 1200)
  --install-only         install wstest and stop
  --force-install        reinstall wstest even if the installed one is current
  -h, --help             this text

A `cargo run ...` testee command is built first with the matching `cargo build`.
Environment: WSTEST_BULLSEYE_MIRROR (Debian mirror carrying bullseye; default: the
host's), WSTEST_NO_WSACCEL=1 (no C accelerator: no compiler needed, slower runs).";

const DEFAULT_SERVER_CMD: &str =
    "cargo run --release -p ferrosocket --example echo_server -- 127.0.0.1:9001";
const DEFAULT_CLIENT_CMD: &str =
    "cargo run --release -p ferrosocket --example autobahn_client -- ws://127.0.0.1:9002";
/// The runtimes with testees in the facade's examples: (name, cargo features,
/// example suffix, whether there is a client testee).
const RUNTIMES: &[(&str, &str, &str, bool)] = &[
    ("tokio", "tokio", "", true),
    ("async-std", "async-std", "_async_std", true),
    ("smol", "smol", "_smol", true),
    ("blocking", "blocking", "_blocking", true),
    // The application layer: a `Handler` that writes back what it reads.
    ("app", "tokio,app", "_app", false),
];

/// The server and client testee commands for a runtime of [`RUNTIMES`] (no
/// client command where there is no client testee).
fn runtime_cmds(runtime: &str) -> Result<(String, Option<String>)> {
    let (_, features, suffix, client) = RUNTIMES
        .iter()
        .find(|(name, ..)| *name == runtime)
        .ok_or_else(|| {
            format!("--runtime {runtime:?}: one of tokio, async-std, smol, blocking, app")
        })?;
    let run = format!("cargo run --release -p ferrosocket --features {features} --example");
    Ok((
        format!("{run} echo_server{suffix} -- 127.0.0.1:9001"),
        client.then(|| format!("{run} autobahn_client{suffix} -- ws://127.0.0.1:9002")),
    ))
}
/// Cases wstest 25.10.1 runs with `"cases": ["*"]`.
const FULL_RUN_CASES: usize = 517;
/// How long a started testee or wstest may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    /// Our server is the testee; wstest is the client.
    Server,
    /// Our client is the testee; wstest is the server.
    Client,
}

impl Role {
    /// The key in `expected-results.json`.
    fn key(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Client => "client",
        }
    }

    /// The wstest mode, also the name of the spec file in `autobahn/`.
    fn mode(self) -> &'static str {
        match self {
            Role::Server => "fuzzingclient",
            Role::Client => "fuzzingserver",
        }
    }
}

#[derive(Debug)]
struct Options {
    roles: Vec<Role>,
    cases: Option<Vec<String>>,
    update_expected: bool,
    expected: PathBuf,
    testee: String,
    server_cmd: String,
    client_cmd: String,
    timeout: Duration,
    install_only: bool,
    force_install: bool,
}

/// `None` for `--help`.
fn parse_args(args: &[String], root: &Path) -> Result<Option<Options>> {
    let mut o = Options {
        roles: vec![Role::Server, Role::Client],
        cases: None,
        update_expected: false,
        expected: root.join("autobahn/expected-results.json"),
        testee: "ferrosocket".into(),
        server_cmd: DEFAULT_SERVER_CMD.into(),
        client_cmd: DEFAULT_CLIENT_CMD.into(),
        timeout: Duration::from_secs(1200),
        install_only: false,
        force_install: false,
    };
    let (mut server_cmd_set, mut client_cmd_set) = (false, false);
    let mut runtime: Option<String> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))
        };
        match flag {
            "-h" | "--help" => return Ok(None),
            "--server-only" | "--client-only" => {
                let role = if flag == "--server-only" {
                    Role::Server
                } else {
                    Role::Client
                };
                if o.roles.len() == 1 && o.roles[0] != role {
                    return Err("--server-only and --client-only exclude each other".into());
                }
                o.roles = vec![role];
            }
            "--cases" => {
                let list: Vec<String> = value()?
                    .split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect();
                if list.is_empty()
                    || list.iter().any(|p| {
                        !p.chars()
                            .all(|c| c.is_ascii_digit() || c == '.' || c == '*')
                    })
                {
                    return Err(format!(
                        "--cases wants case patterns such as 1.*,9.1.1 (digits, '.', '*'), got {list:?}"
                    ));
                }
                o.cases = Some(list);
            }
            "--update-expected" => o.update_expected = true,
            "--expected" => o.expected = root.join(value()?),
            "--testee" => {
                o.testee = value()?;
                if o.testee.is_empty() || o.testee.contains(['&', '?', '#', '/', ' ']) {
                    return Err(format!(
                        "--testee {:?}: not usable as an agent name",
                        o.testee
                    ));
                }
            }
            "--role" => {
                o.roles = match value()?.as_str() {
                    "server" => vec![Role::Server],
                    "client" => vec![Role::Client],
                    "all" => vec![Role::Server, Role::Client],
                    other => return Err(format!("--role {other:?}: one of server, client, all")),
                };
            }
            "--runtime" => runtime = Some(value()?),
            "--server-cmd" => {
                o.server_cmd = value()?;
                server_cmd_set = true;
            }
            "--client-cmd" => {
                o.client_cmd = value()?;
                client_cmd_set = true;
            }
            "--timeout" => {
                let v = value()?;
                let secs: u64 = v
                    .parse()
                    .map_err(|_| format!("--timeout wants seconds, got {v:?}"))?;
                o.timeout = Duration::from_secs(secs.max(1));
            }
            "--install-only" => o.install_only = true,
            "--force-install" => o.force_install = true,
            _ => return Err(format!("unknown argument {arg:?}\n\n{USAGE}")),
        }
        if inline.is_some()
            && !matches!(
                flag,
                "--cases"
                    | "--role"
                    | "--runtime"
                    | "--expected"
                    | "--testee"
                    | "--server-cmd"
                    | "--client-cmd"
                    | "--timeout"
            )
        {
            return Err(format!("{flag} takes no value"));
        }
    }
    if let Some(runtime) = runtime {
        let (server, client) = runtime_cmds(&runtime)?;
        if !server_cmd_set {
            o.server_cmd = server;
        }
        if !client_cmd_set {
            match client {
                Some(client) => o.client_cmd = client,
                None if o.roles.contains(&Role::Client) => {
                    return Err(format!(
                        "--runtime {runtime} has no client testee: use --role server"
                    ));
                }
                None => {}
            }
        }
    }
    Ok(Some(o))
}

/// The wstest spec of one role, with this run's overrides.
#[derive(Debug)]
struct Spec {
    /// The spec file passed to wstest (relative to the workspace root).
    file: String,
    /// The report directory.
    outdir: PathBuf,
    /// Where the testee (server role) or wstest (client role) listens.
    host: String,
    port: u16,
    cases: Vec<String>,
    exclude: Vec<String>,
    /// `cases: ["*"]` with no exclusions: expect [`FULL_RUN_CASES`].
    full: bool,
}

impl Spec {
    /// Reads `autobahn/<mode>.json`; with overrides (`--cases`, `--testee`),
    /// writes the effective spec to `target/autobahn/<mode>.json`.
    fn prepare(root: &Path, role: Role, opts: &Options) -> Result<Spec> {
        let committed = format!("autobahn/{}.json", role.mode());
        let path = root.join(&committed);
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut value = json::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let bad = |what: &str| format!("{}: {what}", path.display());
        let original = value.clone();

        if let Some(cases) = &opts.cases {
            let list = cases.iter().map(|c| Value::String(c.clone())).collect();
            value.set("cases", Value::Array(list));
        }
        let url = match role {
            Role::Server => {
                let Some(Value::Array(servers)) = value.get("servers").cloned() else {
                    return Err(bad("no \"servers\" list"));
                };
                let [server] = servers.as_slice() else {
                    return Err(bad("expected exactly one entry in \"servers\""));
                };
                let mut server = server.clone();
                server.set("agent", Value::String(opts.testee.clone()));
                let url = server
                    .get("url")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                value.set("servers", Value::Array(vec![server]));
                url
            }
            Role::Client => value.get("url").and_then(Value::as_str).map(str::to_string),
        };
        let url = url.ok_or_else(|| bad("no \"url\""))?;
        let (host, port) = parse_ws_url(&url).map_err(|e| bad(&e))?;
        let outdir = value
            .get("outdir")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no \"outdir\""))?;
        let outdir = root.join(outdir);
        let strings = |key: &str| -> Vec<String> {
            value
                .get(key)
                .and_then(Value::as_array)
                .unwrap_or(&[])
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        let cases = strings("cases");
        let exclude = strings("exclude-cases");
        let no_agent_excludes = value
            .get("exclude-agent-cases")
            .and_then(Value::as_object)
            .is_none_or(<[_]>::is_empty);
        let full = cases == ["*"] && exclude.is_empty() && no_agent_excludes;

        let file = if value == original {
            committed
        } else {
            let generated = format!("target/autobahn/{}.json", role.mode());
            let gpath = root.join(&generated);
            fs::create_dir_all(gpath.parent().expect("has a parent")).map_err(|e| e.to_string())?;
            fs::write(&gpath, value.to_pretty())
                .map_err(|e| format!("{}: {e}", gpath.display()))?;
            generated
        };
        Ok(Spec {
            file,
            outdir,
            host,
            port,
            cases,
            exclude,
            full,
        })
    }

    /// The report wstest writes.
    fn index(&self) -> PathBuf {
        self.outdir.join("index.json")
    }

    /// Whether the spec selects case `id`.
    fn selects(&self, id: &str) -> bool {
        self.cases.iter().any(|p| report::pattern_matches(p, id))
            && !self.exclude.iter().any(|p| report::pattern_matches(p, id))
    }
}

/// `(host, port)` of a `ws://` URL.
fn parse_ws_url(url: &str) -> Result<(String, u16)> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| format!("{url:?}: only ws:// URLs are supported"))?;
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => {
            let port = p.parse().map_err(|_| format!("{url:?}: bad port"))?;
            (h, port)
        }
        _ => (authority, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("{url:?}: no host"));
    }
    Ok((host.to_string(), port))
}

/// What one role produced.
struct RoleRun {
    role: Role,
    spec: Spec,
    elapsed: Duration,
    report: Result<AgentReport>,
}

impl RoleRun {
    /// Problems other than the diff: a failed run, or a partial full run.
    fn problem(&self) -> Option<String> {
        match &self.report {
            Err(e) => Some(format!("{} role: {e}", self.role.key())),
            Ok(r) if self.spec.full && r.cases.len() < FULL_RUN_CASES => Some(format!(
                "{} role: only {} cases in the report; a full run has {FULL_RUN_CASES}",
                self.role.key(),
                r.cases.len()
            )),
            Ok(_) => None,
        }
    }
}

/// `cargo xtask autobahn [OPTIONS]`.
pub(crate) fn run(args: &[String]) -> Result {
    let root = crate::root();
    let Some(opts) = parse_args(args, &root)? else {
        println!("{USAGE}");
        return Ok(());
    };
    let prefix = root.join("target/autobahn-env");
    install::ensure(&prefix, opts.force_install)?;
    if opts.install_only {
        return Ok(());
    }
    let wstest = install::wstest_path(&prefix).display().to_string();
    // Fail on a malformed expectations file before spending minutes on a run.
    let expected = report::load_expected(&opts.expected)?;

    let specs = opts
        .roles
        .iter()
        .map(|&role| Ok((role, Spec::prepare(&root, role, &opts)?)))
        .collect::<Result<Vec<_>>>()?;
    // Both roles at once: each pairs a single-threaded wstest with its testee, on
    // their own ports, so two roles take the time of the slower one (the 12.* and
    // 13.* cases spend minutes in wstest's Python).
    let runs: Vec<RoleRun> = std::thread::scope(|scope| {
        let handles: Vec<_> = specs
            .into_iter()
            .map(|(role, spec)| {
                let (root, opts, wstest) = (&root, &opts, &wstest);
                scope.spawn(move || {
                    eprintln!(
                        "autobahn: === {} role: {} ===",
                        role.key(),
                        match role {
                            Role::Server => "wstest -m fuzzingclient against our server",
                            Role::Client => "our client against wstest -m fuzzingserver",
                        }
                    );
                    let start = Instant::now();
                    let report = run_role(root, role, &spec, opts, wstest)
                        .and_then(|()| report::load(&spec.index(), &opts.testee));
                    let elapsed = start.elapsed();
                    eprintln!(
                        "autobahn: {} role took {:.1} s",
                        role.key(),
                        elapsed.as_secs_f64()
                    );
                    RoleRun {
                        role,
                        spec,
                        elapsed,
                        report,
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("an autobahn role thread panicked"))
            .collect()
    });

    let mut problems: Vec<String> = Vec::new();
    for run in &runs {
        if let Ok(r) = &run.report {
            print!("\n{}", r.summary(&relative(&root, &run.spec.index())));
        }
        problems.extend(run.problem());
    }
    if opts.update_expected {
        update_expectations(&root, &opts.expected, expected, &runs, &mut problems)?;
    } else if let Some(expected) = &expected {
        check_expectations(&root, &opts.expected, expected, &runs, &mut problems);
    } else {
        problems.push(format!(
            "{} does not exist: review the results above, then record them as the \
             expectations with `cargo xtask autobahn --update-expected`",
            relative(&root, &opts.expected).display()
        ));
    }

    println!("\nautobahn: summary");
    for run in &runs {
        let status = match &run.report {
            Ok(r) => format!(
                "{:>3} cases  behavior: {}  close: {}",
                r.cases.len(),
                r.behavior_counts(),
                r.close_counts()
            ),
            Err(_) => "no report".into(),
        };
        println!(
            "  {:<6} {status}  ({:.1} s)",
            run.role.key(),
            run.elapsed.as_secs_f64()
        );
        if run.report.is_ok() {
            println!(
                "         HTML report: {}",
                relative(&root, &run.spec.outdir.join("index.html")).display()
            );
        }
    }
    if problems.is_empty() {
        println!("autobahn: PASS");
        Ok(())
    } else {
        Err(format!("autobahn: FAIL\n  - {}", problems.join("\n  - ")))
    }
}

fn relative(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

/// Runs one role up to the written report.
fn run_role(root: &Path, role: Role, spec: &Spec, opts: &Options, wstest: &str) -> Result {
    if proc::accepts(&spec.host, spec.port) {
        return Err(format!(
            "something already listens on {}:{} (a testee or wstest left from an earlier \
             run?); stop it first",
            spec.host, spec.port
        ));
    }
    match fs::remove_dir_all(&spec.outdir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!("cannot clear {}: {e}", spec.outdir.display()));
        }
        _ => {}
    }
    let logs = root.join("target/autobahn/logs");
    let agent_env = [("AUTOBAHN_AGENT", opts.testee.as_str())];
    let wstest_argv = |extra: &[&str]| -> Vec<String> {
        let mut v = vec![wstest.to_string(), "-m".into(), role.mode().into()];
        v.extend(["-s".to_string(), spec.file.clone()]);
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let tick = |name: &'static str| {
        move |t: Duration| eprintln!("autobahn: {name} still running ({} s)", t.as_secs())
    };
    match role {
        Role::Server => {
            let argv = proc::split_command(&opts.server_cmd)?;
            build_first(root, &argv)?;
            let mut server = Proc::spawn(
                "server testee",
                &argv,
                root,
                &agent_env,
                &logs.join("server-testee.log"),
            )?;
            server.wait_for_port(&spec.host, spec.port, START_TIMEOUT)?;
            let mut client = Proc::spawn(
                "wstest -m fuzzingclient",
                &wstest_argv(&[]),
                root,
                &[],
                &logs.join("wstest-fuzzingclient.log"),
            )?;
            let status = client.wait(opts.timeout, tick("wstest -m fuzzingclient"))?;
            if !status.success() {
                return Err(format!(
                    "{} failed ({status})\n{}",
                    client.name(),
                    client.log_tail(15)
                ));
            }
            if let Some(status) = server.exited() {
                return Err(format!(
                    "the server testee exited during the run ({status})\n{}",
                    server.log_tail(15)
                ));
            }
            server.stop();
        }
        Role::Client => {
            let argv = proc::split_command(&opts.client_cmd)?;
            build_first(root, &argv)?;
            // `-u 0`: no web UI (it would listen on 8080).
            let mut server = Proc::spawn(
                "wstest -m fuzzingserver",
                &wstest_argv(&["-u", "0"]),
                root,
                &[],
                &logs.join("wstest-fuzzingserver.log"),
            )?;
            server.wait_for_port(&spec.host, spec.port, START_TIMEOUT)?;
            let mut client = Proc::spawn(
                "client testee",
                &argv,
                root,
                &agent_env,
                &logs.join("client-testee.log"),
            )?;
            let status = client.wait(opts.timeout, tick("client testee"))?;
            if let Some(status) = server.exited() {
                return Err(format!(
                    "wstest -m fuzzingserver exited during the run ({status})\n{}",
                    server.log_tail(15)
                ));
            }
            let synced = sync_client_report(spec, &opts.testee);
            // fuzzingserver never exits by itself.
            server.stop();
            if !status.success() {
                return Err(format!(
                    "the client testee failed ({status})\n{}",
                    client.log_tail(15)
                ));
            }
            synced?;
        }
    }
    Ok(())
}

/// Makes sure the client report holds every case wstest ran: asks wstest
/// for `/updateReports` again while cases are missing, for up to 10 s (see
/// [`control`] for why the testee's own request can come too early).
fn sync_client_report(spec: &Spec, agent: &str) -> Result {
    let count = control::request(&spec.host, spec.port, "/getCaseCount")?;
    let total: usize = count
        .as_deref()
        .and_then(|c| c.trim().parse().ok())
        .ok_or_else(|| format!("wstest answered /getCaseCount with {count:?}"))?;
    let index = spec.index();
    let recorded = || report::load(&index, agent).map_or(0, |r| r.cases.len());
    let first = recorded();
    if first >= total {
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let path = format!("/updateReports?agent={agent}");
        control::request(&spec.host, spec.port, &path)?;
        let now = recorded();
        if now >= total || Instant::now() > deadline {
            eprintln!(
                "autobahn: note: the client testee's report had {first} of {total} cases; \
                 after asking wstest again: {now}"
            );
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Builds a `cargo run` testee first, so the build is not part of the
/// start-up timeout and its progress shows on the terminal.
fn build_first(root: &Path, argv: &[String]) -> Result {
    let Some(build) = proc::cargo_build_of(argv) else {
        return Ok(());
    };
    eprintln!("autobahn: $ {}", build.join(" "));
    let status = Command::new(&build[0])
        .args(&build[1..])
        .current_dir(root)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", build.join(" ")))
    }
}

fn check_expectations(
    root: &Path,
    path: &Path,
    expected: &Expected,
    runs: &[RoleRun],
    problems: &mut Vec<String>,
) {
    let file = relative(root, path);
    for run in runs {
        let Ok(r) = &run.report else { continue };
        let role = run.role.key();
        let Some(exp) = expected.get(role) else {
            problems.push(format!(
                "{} has no \"{role}\" expectations: record them with --update-expected",
                file.display()
            ));
            continue;
        };
        let d = report::diff(r, exp, |id| run.spec.selects(id));
        println!("\n== {role} role against {}", file.display());
        print_diff(&d);
        if d.is_failure() {
            problems.push(format!(
                "{role} role: {} worse than expected, {} missing, {} failing and not expected \
                 (listed above)",
                d.worse.len(),
                d.missing.len(),
                d.new_failing.len()
            ));
        }
    }
}

fn print_diff(d: &report::Diff<'_>) {
    let ids = |cases: &mut dyn Iterator<Item = &str>| cases.collect::<Vec<_>>().join(", ");
    if !d.worse.is_empty() {
        println!("   WORSE than expected ({}):", d.worse.len());
        for (c, exp) in &d.worse {
            println!(
                "     {:<10} expected {exp}, got {}: behavior={} behaviorClose={} {}",
                c.id,
                c.result(),
                c.behavior,
                c.behavior_close,
                c.reportfile
            );
        }
    }
    if !d.missing.is_empty() {
        println!(
            "   MISSING from the report ({}): {}",
            d.missing.len(),
            ids(&mut d.missing.iter().map(|(id, _)| *id))
        );
    }
    if !d.new_failing.is_empty() {
        println!(
            "   FAILING and not in the expectations ({}):",
            d.new_failing.len()
        );
        for c in &d.new_failing {
            println!(
                "     {:<10} behavior={} behaviorClose={} {}",
                c.id, c.behavior, c.behavior_close, c.reportfile
            );
        }
    }
    if !d.better.is_empty() {
        println!(
            "   better than expected ({}), record with --update-expected:",
            d.better.len()
        );
        for (c, exp) in &d.better {
            println!("     {:<10} expected {exp}, got {}", c.id, c.result());
        }
    }
    if !d.new_passing.is_empty() {
        println!(
            "   not in the expectations, passing ({}), record with --update-expected: {}",
            d.new_passing.len(),
            ids(&mut d.new_passing.iter().map(|c| c.id.as_str()))
        );
    }
    if !d.known_failing.is_empty() {
        println!(
            "   failing as expected ({}): {}",
            d.known_failing.len(),
            ids(&mut d.known_failing.iter().map(|c| c.id.as_str()))
        );
    }
    println!(
        "   RESULT: {}",
        if d.is_failure() {
            "FAIL"
        } else {
            "as expected"
        }
    );
}

fn update_expectations(
    root: &Path,
    path: &Path,
    old: Option<Expected>,
    runs: &[RoleRun],
    problems: &mut Vec<String>,
) -> Result {
    let file = relative(root, path);
    let mut new = old.clone().unwrap_or_default();
    let mut updated = Vec::new();
    for run in runs {
        let role = run.role.key();
        let Ok(r) = &run.report else {
            println!("autobahn: not updating the {role} expectations: the run failed");
            continue;
        };
        if run.problem().is_some() {
            println!("autobahn: not updating the {role} expectations: the run was partial");
            continue;
        }
        if let Some(exp) = old.as_ref().and_then(|o| o.get(role)) {
            let d = report::diff(r, exp, |id| run.spec.selects(id));
            println!(
                "\n== {role} role: changes against the old {}",
                file.display()
            );
            print_diff(&d);
        }
        let failing = r.failing().count();
        if failing > 0 {
            println!(
                "autobahn: note: {failing} failing {role} cases are recorded as expected failures"
            );
        }
        report::update_expected(new.entry(role.into()).or_default(), r, |id| {
            run.spec.selects(id)
        });
        updated.push(format!("{role} ({} cases)", r.cases.len()));
    }
    if updated.is_empty() {
        problems.push(format!(
            "{} not written: no role ran cleanly",
            file.display()
        ));
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    fs::write(path, report::format_expected(&new))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("autobahn: wrote {}: {}", file.display(), updated.join(", "));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_options() {
        let root = Path::new("/w");
        let o = parse_args(&args(&[]), root).unwrap().unwrap();
        assert_eq!(o.roles, [Role::Server, Role::Client]);
        assert_eq!(o.expected, root.join("autobahn/expected-results.json"));
        let o = parse_args(
            &args(&[
                "--server-only",
                "--cases",
                "1.*, 2.*",
                "--testee=x",
                "--server-cmd",
                "./srv 1",
                "--update-expected",
            ]),
            root,
        )
        .unwrap()
        .unwrap();
        assert_eq!(o.roles, [Role::Server]);
        assert_eq!(o.cases.unwrap(), ["1.*", "2.*"]);
        assert_eq!(o.testee, "x");
        assert_eq!(o.server_cmd, "./srv 1");
        assert!(o.update_expected);
        assert!(parse_args(&args(&["--help"]), root).unwrap().is_none());
        for bad in [
            &["--server-only", "--client-only"][..],
            &["--cases", "1.x"],
            &["--cases"],
            &["--bogus"],
            &["--testee", "a b"],
            &["--update-expected=1"],
        ] {
            assert!(parse_args(&args(bad), root).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parses_ws_urls() {
        assert_eq!(
            parse_ws_url("ws://127.0.0.1:9001").unwrap(),
            ("127.0.0.1".into(), 9001)
        );
        assert_eq!(
            parse_ws_url("ws://localhost/x?y").unwrap(),
            ("localhost".into(), 80)
        );
        assert_eq!(parse_ws_url("ws://[::1]:9").unwrap(), ("::1".into(), 9));
        assert!(parse_ws_url("wss://a:1").is_err());
        assert!(parse_ws_url("ws://a:x").is_err());
    }

    #[test]
    fn committed_specs_are_valid() {
        let root = crate::root();
        let o = parse_args(&args(&[]), &root).unwrap().unwrap();
        for role in [Role::Server, Role::Client] {
            let spec = Spec::prepare(&root, role, &o).unwrap();
            assert!(spec.full, "{role:?}");
            assert_eq!(spec.file, format!("autobahn/{}.json", role.mode()));
            assert_eq!(spec.host, "127.0.0.1");
            assert!(spec.selects("12.1.1"));
        }
    }
}
