//! Installs the Autobahn|Testsuite `wstest` into a private prefix
//! (default `target/autobahn-env`), without Docker and without touching the
//! system: nothing is installed system-wide and the host's apt lists are left
//! alone.
//!
//! `autobahntestsuite` 25.10.1 (the last release) runs only on Python 2.7,
//! which Debian bookworm no longer ships. So the Debian *bullseye* python2.7
//! packages are fetched with `apt-get download` against private apt state,
//! unpacked with `dpkg -x` into the prefix, and run through wrapper scripts
//! that set `PYTHONHOME` and `LD_LIBRARY_PATH`. pip 20.3.4 (the last pip for
//! 2.7) is fetched once with the host's `python3 -m pip`, then installs an
//! exact, fully pinned package set with `--no-deps --no-build-isolation`.
//!
//! Idempotent: `PREFIX/.install-stamp` records what was installed; when it
//! matches and `wstest -a` reports the suite version, nothing is done.
//! Host needs: `apt-get`, `dpkg`, the Debian archive keyring, `python3 -m pip`,
//! network access to a Debian mirror and PyPI, and `gcc` with libc headers for
//! the `wsaccel` accelerator (skip it with `WSTEST_NO_WSACCEL=1`).

use std::env;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::Result;

/// The suite version `wstest -a` must report.
pub(crate) const SUITE_VERSION: &str = "25.10.1";
/// The last pip that supports Python 2.7.
const PIP_VERSION: &str = "20.3.4";
/// Debian bullseye packages unpacked into the prefix. bullseye `main` is frozen
/// (final point release 11.11), so these resolve to fixed versions: python2.7,
/// python2.7-minimal, libpython2.7-minimal, libpython2.7-stdlib and
/// libpython2.7-dev 2.7.18-8+deb11u1 (the -dev package only for the headers
/// wsaccel compiles against), libssl1.1 1.1.1w-0+deb11u1 and libffi7 3.3-6
/// (bookworm only has libssl3 and libffi8).
const DEBS: &[&str] = &[
    "python2.7",
    "python2.7-minimal",
    "libpython2.7-minimal",
    "libpython2.7-stdlib",
    "libpython2.7-dev",
    "libssl1.1",
    "libffi7",
];
/// Libraries the bullseye stdlib links against that bookworm normally has with
/// the same soname: `(soname, bullseye package)`. The package is added to the
/// prefix only when the host's `ldconfig -p` lacks the soname.
const HOST_LIBS: &[(&str, &str)] = &[
    ("libbz2.so.1.0", "libbz2-1.0"),
    ("libcrypt.so.1", "libcrypt1"),
    ("libdb-5.3.so", "libdb5.3"),
    ("libexpat.so.1", "libexpat1"),
    ("libncursesw.so.6", "libncursesw6"),
    ("libnsl.so.2", "libnsl2"),
    ("libreadline.so.8", "libreadline8"),
    ("libsqlite3.so.0", "libsqlite3-0"),
    ("libtinfo.so.6", "libtinfo6"),
    ("libtirpc.so.3", "libtirpc3"),
    ("libz.so.1", "zlib1g"),
    ("libgssapi_krb5.so.2", "libgssapi-krb5-2"),
    ("libkrb5.so.3", "libkrb5-3"),
    ("libk5crypto.so.3", "libk5crypto3"),
    ("libkrb5support.so.0", "libkrb5support0"),
    ("libcom_err.so.2", "libcom-err2"),
    ("libkeyutils.so.1", "libkeyutils1"),
];
/// Installed right after pip, before the lock (the lock's sdists build with them).
const BOOTSTRAP_PINS: &[&str] = &["setuptools==44.0.0", "wheel==0.37.1"];
/// The complete Python 2.7 package set: autobahntestsuite's own pins plus every
/// transitive dependency as pip 20.3.4 resolved them. Installed with
/// `--no-deps`, so nothing floats. The 25.10.1 sdist declares no dependencies
/// (it lacks its requirements.txt), which `--no-deps` makes irrelevant.
const LOCK_PINS: &[&str] = &[
    "attrs==21.4.0",
    "autobahn==0.10.9",
    "autobahntestsuite==25.10.1",
    "Automat==22.10.0",
    "cffi==1.15.1",
    "constantly==15.1.0",
    "cryptography==3.3.2",
    "enum34==1.1.10",
    "hyperlink==21.0.0",
    "idna==2.10",
    "incremental==16.10.1",
    "ipaddress==1.0.23",
    "Jinja2==2.11.3",
    "klein==17.10.0",
    "linecache2==1.0.0",
    "MarkupSafe==1.1.1",
    "pyasn1==0.5.1",
    "pyasn1-modules==0.3.0",
    "pycparser==2.21",
    "PyHamcrest==1.9.0",
    "pyOpenSSL==19.1.0",
    "service-identity==18.1.0",
    "six==1.16.0",
    "traceback2==1.4.0",
    "Twisted==19.10.0",
    "txaio==2.1.0",
    "typing==3.10.0.0",
    "ujson==2.0.3",
    "unittest2==1.1.0",
    "Werkzeug==1.0.1",
    "zope.interface==4.6.0",
];
/// C accelerator for UTF-8 validation and masking: same results, about twice
/// as fast. Its pyproject asks for Cython 3, but the sdist ships the generated
/// C, so `--no-build-isolation` builds it with the pinned setuptools.
const WSACCEL_PIN: &str = "wsaccel==0.6.6";
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
const MULTIARCH: &str = "x86_64-linux-gnu";

/// `bin/python2.7`: runs the unpacked interpreter with the prefix as its home.
/// Headers are found through `CPATH`: Debian's distutils still reports
/// `/usr/include/python2.7`, and pyconfig.h includes
/// `<x86_64-linux-gnu/python2.7/pyconfig.h>`. `PYTHONUSERBASE` would switch
/// pip to another install scheme, so it is unset; pip then installs into
/// `PREFIX/usr/local/lib/python2.7/dist-packages` (Debian's `unix_local`).
const PYTHON_WRAPPER: &str = r#"#!/bin/sh
# Written by `cargo xtask autobahn`: runs the Debian bullseye python2.7 unpacked in this prefix.
P=$(dirname "$(dirname "$(readlink -f "$0")")")
unset PYTHONPATH PYTHONUSERBASE PYTHONSTARTUP PYTHONEXECUTABLE
PYTHONHOME="$P/usr"
PYTHONNOUSERSITE=1
LD_LIBRARY_PATH="$P/usr/lib/x86_64-linux-gnu:$P/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
CPATH="$P/usr/include/python2.7:$P/usr/include${CPATH:+:$CPATH}"
# cryptography 3.3 warns on every start that Python 2 is no longer supported.
PYTHONWARNINGS="${PYTHONWARNINGS:-ignore:Python 2 is no longer supported}"
export PYTHONHOME PYTHONNOUSERSITE LD_LIBRARY_PATH CPATH PYTHONWARNINGS
exec "$P/usr/bin/python2.7" "$@"
"#;

const PIP_WRAPPER: &str = r#"#!/bin/sh
# Written by `cargo xtask autobahn`: pip for this prefix's python2.7.
exec "$(dirname "$(readlink -f "$0")")/python2.7" -m pip "$@"
"#;

const WSTEST_WRAPPER: &str = r#"#!/bin/sh
# Written by `cargo xtask autobahn`: the Autobahn|Testsuite command line.
# Servers it starts listen on $WSTEST_LISTEN_INTERFACE (default 127.0.0.1).
D=$(dirname "$(readlink -f "$0")")
exec "$D/python2.7" "$(dirname "$D")/libexec/wstest-main.py" "$@"
"#;

/// wstest / autobahn 0.10.9 call `listenWS` with `interface=''`, so every
/// server they start (fuzzingserver, echoserver, the `-u` web UI) listens on
/// all interfaces. This entry point makes Twisted bind to
/// `$WSTEST_LISTEN_INTERFACE` instead: 127.0.0.1 unless set to 0.0.0.0.
const WSTEST_MAIN: &str = r#"# Written by `cargo xtask autobahn`: runs wstest with its servers bound to
# $WSTEST_LISTEN_INTERFACE (default 127.0.0.1; 0.0.0.0 for the stock behaviour).
import os, sys
iface = os.environ.get("WSTEST_LISTEN_INTERFACE", "127.0.0.1")
if iface not in ("", "0.0.0.0"):
    from twisted.internet import posixbase
    _tcp = posixbase.PosixReactorBase.listenTCP
    _ssl = posixbase.PosixReactorBase.listenSSL
    def listenTCP(self, port, factory, backlog=50, interface=''):
        return _tcp(self, port, factory, backlog, interface or iface)
    def listenSSL(self, port, factory, contextFactory, backlog=50, interface=''):
        return _ssl(self, port, factory, contextFactory, backlog, interface or iface)
    posixbase.PosixReactorBase.listenTCP = listenTCP
    posixbase.PosixReactorBase.listenSSL = listenSSL
sys.argv[0] = "wstest"
from autobahntestsuite.wstest import run
sys.exit(run())
"#;

const PYTHON_CHECK: &str = "import ssl, _ctypes, hashlib, zlib, sys; \
print('python ' + sys.version.split()[0] + ', ' + ssl.OPENSSL_VERSION)";

const IMPORT_CHECK: &str = r#"import sys
for m in ["autobahntestsuite.wstest", "autobahntestsuite.fuzzing", "autobahn.twisted.websocket",
          "twisted.internet.reactor", "OpenSSL.SSL", "cryptography", "zope.interface",
          "klein", "jinja2", "ujson", "zlib"]:
    __import__(m)
try:
    import wsaccel
    acc = "wsaccel " + getattr(wsaccel, "__version__", "?")
except ImportError:
    acc = "no wsaccel (pure-python UTF-8 validator and masker)"
print("imports ok; " + acc)
"#;

/// Pip's own settings that would change where or what it installs.
const PIP_ENV_REMOVE: &[&str] = &[
    "PIP_USER",
    "PIP_TARGET",
    "PIP_PREFIX",
    "PIP_ROOT",
    "PIP_REQUIRE_VIRTUALENV",
    "PIP_NO_BINARY",
    "PIP_ONLY_BINARY",
    "PIP_CONSTRAINT",
    "PIP_NO_DEPS",
];

fn info(msg: &str) {
    eprintln!("autobahn: install: {msg}");
}

/// Path of the `wstest` command inside `prefix`.
pub(crate) fn wstest_path(prefix: &Path) -> PathBuf {
    prefix.join("bin/wstest")
}

/// Makes sure `prefix/bin/wstest` works, installing it if needed.
pub(crate) fn ensure(prefix: &Path, force: bool) -> Result {
    let started = Instant::now();
    let wsaccel = env::var("WSTEST_NO_WSACCEL").as_deref() != Ok("1");
    let mirror = match env::var("WSTEST_BULLSEYE_MIRROR") {
        Ok(m) if !m.is_empty() => m,
        _ => host_mirror().ok_or(
            "cannot find a Debian mirror in the host's apt sources; set WSTEST_BULLSEYE_MIRROR",
        )?,
    };
    let stamp = stamp_text(&mirror, wsaccel);
    if !force && stamp_ok(prefix, &stamp) {
        info(&format!(
            "wstest {SUITE_VERSION} already installed in {} ({} ms)",
            prefix.display(),
            started.elapsed().as_millis()
        ));
        return Ok(());
    }

    preflight(wsaccel)?;
    fs::create_dir_all(prefix).map_err(|e| format!("cannot create {}: {e}", prefix.display()))?;
    let prefix = &fs::canonicalize(prefix).map_err(|e| format!("{}: {e}", prefix.display()))?;
    let _lock = InstallLock::acquire(prefix)?;
    if !force && stamp_ok(prefix, &stamp) {
        info("wstest was installed meanwhile by another run");
        return Ok(());
    }
    let cache = prefix.join(".cache");
    for dir in [cache.join("debs"), cache.join("wheels"), prefix.join("bin")] {
        create_dir(&dir)?;
    }
    remove_file_if_exists(&prefix.join(".install-stamp"))?;
    info(&format!("installing into {}", prefix.display()));

    unpack_python(prefix, &cache, &mirror)?;
    write_wrappers(prefix)?;
    let out = capture(Command::new(prefix.join("bin/python2.7")).args(["-c", PYTHON_CHECK]))
        .map_err(|e| {
            format!("the unpacked python2.7 does not start (missing shared library?): {e}")
        })?;
    info(out.trim());
    install_packages(prefix, &cache, wsaccel)?;

    let out = capture(Command::new(prefix.join("bin/python2.7")).args(["-c", IMPORT_CHECK]))
        .map_err(|e| format!("import check failed: {e}"))?;
    info(out.trim());
    let version = wstest_version(prefix)
        .ok_or_else(|| format!("{} -a does not run", wstest_path(prefix).display()))?;
    if !version.contains(SUITE_VERSION) {
        return Err(format!(
            "wstest -a does not report AutobahnTestSuite {SUITE_VERSION}: {version}"
        ));
    }
    info(&version.trim().replace('\n', ", "));
    fs::write(prefix.join(".install-stamp"), &stamp).map_err(|e| e.to_string())?;
    info(&format!(
        "done in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        wstest_path(prefix).display()
    ));
    Ok(())
}

/// What the stamp records: a hash of everything this installer writes or pins,
/// plus the mirror and the wsaccel choice. Any change means a reinstall.
fn stamp_text(mirror: &str, wsaccel: bool) -> String {
    let mut h = Fnv1a::default();
    for part in [
        PYTHON_WRAPPER,
        PIP_WRAPPER,
        WSTEST_WRAPPER,
        WSTEST_MAIN,
        IMPORT_CHECK,
    ] {
        h.write(part.as_bytes());
    }
    format!(
        "installer={:016x} suite={SUITE_VERSION} pip={PIP_VERSION} mirror={mirror} debs={} \
         boot={} lock={} wsaccel={}\n",
        h.0,
        DEBS.join(","),
        BOOTSTRAP_PINS.join(","),
        LOCK_PINS.join(","),
        if wsaccel { WSACCEL_PIN } else { "no" },
    )
}

/// FNV-1a, 64-bit: a hash that is stable across Rust versions (unlike std's).
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

fn stamp_ok(prefix: &Path, stamp: &str) -> bool {
    fs::read_to_string(prefix.join(".install-stamp")).is_ok_and(|s| s == stamp)
        && wstest_version(prefix).is_some_and(|v| v.contains(SUITE_VERSION))
}

/// The output of `wstest -a`, e.g. "Autobahn 0.10.9\nAutobahnTestSuite 25.10.1".
fn wstest_version(prefix: &Path) -> Option<String> {
    let out = Command::new(wstest_path(prefix))
        .arg("-a")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The first non-security `http(s)` mirror in the host's apt sources (deb822
/// `.sources` files first, then one-line `.list` files).
fn host_mirror() -> Option<String> {
    let mut deb822 = Vec::new();
    let mut one_line = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(entries) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            match p.extension().and_then(|e| e.to_str()) {
                Some("sources") => deb822.push(p),
                Some("list") => one_line.push(p),
                _ => {}
            }
        }
    }
    let usable = |u: &&str| u.starts_with("http") && !u.contains("security");
    for p in &deb822 {
        let text = fs::read_to_string(p).unwrap_or_default();
        for line in text.lines() {
            if let Some(uris) = line.trim().strip_prefix("URIs:")
                && let Some(u) = uris.split_whitespace().find(usable)
            {
                return Some(u.to_string());
            }
        }
    }
    for p in &one_line {
        let text = fs::read_to_string(p).unwrap_or_default();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            if words.next() == Some("deb")
                && let Some(u) = words.find(usable)
            {
                return Some(u.to_string());
            }
        }
    }
    None
}

/// Environment for the C compiler pip uses to build wsaccel, if one is needed.
fn compiler_env(wsaccel: bool) -> Vec<(&'static str, &'static str)> {
    if wsaccel && !runs(Command::new(format!("{MULTIARCH}-gcc")).arg("--version")) {
        vec![("CC", "gcc"), ("LDSHARED", "gcc -pthread -shared")]
    } else {
        Vec::new()
    }
}

fn preflight(wsaccel: bool) -> Result {
    for tool in ["apt-get", "dpkg", "dpkg-deb"] {
        if !runs(Command::new(tool).arg("--version")) {
            return Err(format!(
                "'{tool}' not found: the wstest installer needs a Debian (bookworm) host"
            ));
        }
    }
    let arch = capture(Command::new("dpkg").arg("--print-architecture"))?;
    if arch.trim() != "amd64" {
        return Err(format!(
            "architecture '{}' is not supported: the pinned cp27mu wheels are x86_64 only",
            arch.trim()
        ));
    }
    if !runs(Command::new("python3").args(["-m", "pip", "--version"])) {
        return Err(format!(
            "the host's python3 has no pip (needed once, to download pip {PIP_VERSION} for Python 2.7)"
        ));
    }
    if !Path::new(KEYRING).is_file() {
        return Err(format!(
            "{KEYRING} missing (apt-get install debian-archive-keyring)"
        ));
    }
    if wsaccel {
        let cc = compiler_env(true)
            .first()
            .map_or(format!("{MULTIARCH}-gcc"), |(_, cc)| (*cc).to_string());
        if !runs(Command::new(&cc).arg("--version")) {
            return Err(
                "no C compiler: gcc is needed to build wsaccel (apt-get install gcc), \
                        or set WSTEST_NO_WSACCEL=1"
                    .into(),
            );
        }
        let mut child = Command::new(&cc)
            .args(["-E", "-x", "c", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{cc}: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(b"#include <stdlib.h>\n");
        }
        if !child.wait().is_ok_and(|s| s.success()) {
            return Err(format!(
                "{cc} cannot find the libc headers (apt-get install libc6-dev), \
                 or set WSTEST_NO_WSACCEL=1"
            ));
        }
    }
    Ok(())
}

/// Step 1: the Debian bullseye python2.7 packages, via private apt state.
fn unpack_python(prefix: &Path, cache: &Path, mirror: &str) -> Result {
    let apt = cache.join("apt");
    for dir in ["lists/partial", "cache/archives/partial", "empty"] {
        create_dir(&apt.join(dir))?;
    }
    // An empty dpkg status: otherwise `apt-get download` wants the host's
    // installed (bookworm) version of a package and finds no source for it.
    write_file(&apt.join("status"), "")?;
    write_file(
        &apt.join("sources.list"),
        &format!("deb [signed-by={KEYRING}] {mirror} bullseye main\n"),
    )?;
    let user = capture(Command::new("id").arg("-un"))?;
    let uid = capture(Command::new("id").arg("-u"))?;
    let a = |p: &str| apt.join(p).display().to_string();
    let mut opts = vec![
        format!("Dir::Etc::SourceList={}", a("sources.list")),
        format!("Dir::Etc::SourceParts={}", a("empty")),
        format!("Dir::Etc::PreferencesParts={}", a("empty")),
        format!("Dir::State::Lists={}", a("lists")),
        format!("Dir::State::status={}", a("status")),
        format!("Dir::Cache={}", a("cache")),
        "Dir::Cache::pkgcache=".into(),
        "Dir::Cache::srcpkgcache=".into(),
        // bullseye's Release file is past its Valid-Until date.
        "Acquire::Check-Valid-Until=false".into(),
        "Acquire::Languages=none".into(),
        // apt-get update exits 0 on an unreachable mirror without this.
        "APT::Update::Error-Mode=any".into(),
        // No `_apt` sandbox warning when downloading into a root-owned dir.
        format!("APT::Sandbox::User={}", user.trim()),
    ];
    if uid.trim() != "0" {
        opts.push("Debug::NoLocking=1".into());
    }
    let apt_get = |args: &[&str]| {
        let mut cmd = Command::new("apt-get");
        cmd.arg("-q");
        for o in &opts {
            cmd.args(["-o", o]);
        }
        cmd.args(args);
        cmd
    };

    info(&format!(
        "apt-get update (bullseye from {mirror}, private lists under {})",
        apt.display()
    ));
    let log = cache.join("apt-update.log");
    run_logged(&mut apt_get(&["update"]), &log, 20).map_err(|e| {
        format!(
            "{e}: apt-get update for bullseye failed (if bullseye moved to Debian's archive \
             host, set WSTEST_BULLSEYE_MIRROR)"
        )
    })?;
    let have_index = fs::read_dir(apt.join("lists")).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .contains("_dists_bullseye_main_binary-amd64_Packages")
        })
    });
    if !have_index {
        return Err(format!(
            "apt-get update fetched no bullseye Packages index from {mirror} (see {})",
            log.display()
        ));
    }

    let mut debs: Vec<&str> = DEBS.to_vec();
    let ldcache = Command::new("ldconfig")
        .arg("-p")
        .output()
        .or_else(|_| Command::new("/sbin/ldconfig").arg("-p").output())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    for (soname, pkg) in HOST_LIBS {
        if !ldcache.contains(&format!("{soname} (")) {
            info(&format!(
                "host lacks {soname}: adding bullseye package {pkg}"
            ));
            debs.push(pkg);
        }
    }
    let deb_dir = cache.join("debs");
    for entry in fs::read_dir(&deb_dir).map_err(|e| e.to_string())?.flatten() {
        if entry.path().extension().is_some_and(|e| e == "deb") {
            remove_file_if_exists(&entry.path())?;
        }
    }
    info(&format!("apt-get download {}", debs.join(" ")));
    let mut args = vec!["download"];
    args.extend(&debs);
    run_logged(
        apt_get(&args).current_dir(&deb_dir),
        &cache.join("apt-download.log"),
        20,
    )
    .map_err(|e| format!("{e}: apt-get download of the bullseye packages failed"))?;

    let mut listing = Vec::new();
    for entry in fs::read_dir(&deb_dir).map_err(|e| e.to_string())?.flatten() {
        let deb = entry.path();
        if deb.extension().is_none_or(|e| e != "deb") {
            continue;
        }
        let status = Command::new("dpkg")
            .arg("-x")
            .arg(&deb)
            .arg(prefix)
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            return Err(format!("dpkg -x {} failed: {status}", deb.display()));
        }
        let fields = capture(
            Command::new("dpkg-deb")
                .arg("-f")
                .arg(&deb)
                .args(["Package", "Version"]),
        )?;
        let mut name_version = ["", ""];
        for line in fields.lines() {
            if let Some(v) = line.strip_prefix("Package: ") {
                name_version[0] = v;
            } else if let Some(v) = line.strip_prefix("Version: ") {
                name_version[1] = v;
            }
        }
        listing.push(format!("{} {}", name_version[0], name_version[1]));
    }
    listing.sort();
    for line in &listing {
        info(&format!("  {line}"));
    }
    write_file(
        &prefix.join("debian-packages.txt"),
        &(listing.join("\n") + "\n"),
    )?;
    if !prefix.join("usr/bin/python2.7").is_file() {
        return Err("usr/bin/python2.7 missing after unpacking the debs".into());
    }
    Ok(())
}

/// Step 2: `bin/python2.7`, `bin/python`, `bin/pip`, `bin/wstest` and the
/// wstest entry point that binds its servers to 127.0.0.1.
fn write_wrappers(prefix: &Path) -> Result {
    create_dir(&prefix.join("libexec"))?;
    write_file(&prefix.join("libexec/wstest-main.py"), WSTEST_MAIN)?;
    for (name, text) in [
        ("python2.7", PYTHON_WRAPPER),
        ("pip", PIP_WRAPPER),
        ("wstest", WSTEST_WRAPPER),
    ] {
        let path = prefix.join("bin").join(name);
        write_file(&path, text)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("chmod {}: {e}", path.display()))?;
    }
    let link = prefix.join("bin/python");
    remove_file_if_exists(&link)?;
    std::os::unix::fs::symlink("python2.7", &link)
        .map_err(|e| format!("symlink {}: {e}", link.display()))
}

/// Steps 3 and 4: pip 20.3.4, then the pinned lock, then `pip check`.
fn install_packages(prefix: &Path, cache: &Path, wsaccel: bool) -> Result {
    let python = prefix.join("bin/python2.7");
    let pip_cache = cache.join("pip");
    let pip_env = |cmd: &mut Command| {
        for var in PIP_ENV_REMOVE {
            cmd.env_remove(var);
        }
        cmd.env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env("PIP_NO_PYTHON_VERSION_WARNING", "1")
            .env("PIP_CACHE_DIR", &pip_cache)
            .envs(compiler_env(wsaccel));
    };
    let pip_version = Command::new(&python)
        .args(["-m", "pip", "--version"])
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let mut cmd;
    if pip_version.starts_with(&format!("pip {PIP_VERSION} ")) {
        cmd = Command::new(prefix.join("bin/pip"));
        cmd.args(["install", "-q", "--no-warn-script-location"]);
    } else {
        let wheels = cache.join("wheels");
        let wheel = wheels.join(format!("pip-{PIP_VERSION}-py2.py3-none-any.whl"));
        if !wheel.is_file() {
            info(&format!(
                "downloading pip {PIP_VERSION} with the host's python3"
            ));
            let mut dl = Command::new("python3");
            dl.args(["-m", "pip", "download", "-q", "--no-deps"])
                .args(["--only-binary", ":all:", "-d"])
                .arg(&wheels)
                .arg(format!("pip=={PIP_VERSION}"));
            pip_env(&mut dl);
            check_status(&mut dl, "python3 -m pip download (is PyPI reachable?)")?;
        }
        if !wheel.is_file() {
            return Err(format!("expected {} after the download", wheel.display()));
        }
        // A wheel is a zip that Python can run from: `python WHEEL/pip install WHEEL`.
        cmd = Command::new(&python);
        cmd.arg(wheel.join("pip"))
            .args(["install", "-q", "--no-warn-script-location"])
            .arg(&wheel);
    }
    info(&format!(
        "installing pip {PIP_VERSION}, {}",
        BOOTSTRAP_PINS.join(", ")
    ));
    cmd.args(BOOTSTRAP_PINS);
    pip_env(&mut cmd);
    check_status(&mut cmd, "bootstrapping pip into the prefix")?;

    let mut lock: Vec<&str> = LOCK_PINS.to_vec();
    if wsaccel {
        lock.push(WSACCEL_PIN);
    }
    let lock_file = prefix.join("requirements-lock.txt");
    write_file(&lock_file, &(lock.join("\n") + "\n"))?;
    info(&format!(
        "pip install of {} pinned packages (autobahntestsuite {SUITE_VERSION}, Twisted, autobahn 0.10.9, ...)",
        lock.len()
    ));
    // --no-deps: the lock is complete. --no-build-isolation: the sdists build
    // with the pinned setuptools instead of whatever isolation would fetch.
    // --force-reinstall repairs a damaged prefix; the pip cache keeps it cheap.
    let mut cmd = Command::new(prefix.join("bin/pip"));
    cmd.args(["install", "--no-warn-script-location", "--prefer-binary"])
        .args([
            "--no-deps",
            "--no-build-isolation",
            "--force-reinstall",
            "-r",
        ])
        .arg(&lock_file);
    pip_env(&mut cmd);
    run_logged(&mut cmd, &cache.join("pip-install.log"), 40)
        .map_err(|e| format!("{e}: pip install of the pinned set failed"))?;
    let mut cmd = Command::new(prefix.join("bin/pip"));
    cmd.arg("check");
    pip_env(&mut cmd);
    check_status(&mut cmd, "pip check (inconsistent requirements)")
}

/// Serializes installs into one prefix: a lock directory holding the owner's
/// pid; a lock whose owner is gone is taken over.
struct InstallLock(PathBuf);

impl InstallLock {
    fn acquire(prefix: &Path) -> Result<Self> {
        let dir = prefix.join(".install.lock");
        let deadline = Instant::now() + Duration::from_secs(900);
        let mut said = false;
        loop {
            match fs::create_dir(&dir) {
                Ok(()) => {
                    fs::write(dir.join("pid"), std::process::id().to_string())
                        .map_err(|e| e.to_string())?;
                    return Ok(InstallLock(dir));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let owner = fs::read_to_string(dir.join("pid")).unwrap_or_default();
                    let alive =
                        !owner.trim().is_empty() && Path::new("/proc").join(owner.trim()).exists();
                    if !alive && !owner.trim().is_empty() {
                        let _ = fs::remove_dir_all(&dir);
                        continue;
                    }
                    if Instant::now() > deadline {
                        return Err(format!(
                            "timed out waiting for another install into {} (lock {})",
                            prefix.display(),
                            dir.display()
                        ));
                    }
                    if !said {
                        info("waiting for another install into the same prefix");
                        said = true;
                    }
                    thread::sleep(Duration::from_millis(500));
                }
                Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
            }
        }
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn runs(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `cmd` and returns its stdout; stderr goes to the terminal.
fn capture(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{:?} failed: {}", cmd.get_program(), out.status))
    }
}

fn check_status(cmd: &mut Command, what: &str) -> Result {
    match cmd.stdin(Stdio::null()).status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("{what} failed: {s}")),
        Err(e) => Err(format!("{what}: cannot run {:?}: {e}", cmd.get_program())),
    }
}

/// Runs `cmd` with stdout and stderr in `log`; on failure prints the last
/// `tail` lines of the log.
fn run_logged(cmd: &mut Command, log: &Path, tail: usize) -> Result {
    let file = fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let file2 = file.try_clone().map_err(|e| e.to_string())?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(file2)
        .status()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        return Ok(());
    }
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    for line in &lines[lines.len().saturating_sub(tail)..] {
        eprintln!("  | {line}");
    }
    Err(format!("{status} (full log: {})", log.display()))
}

fn create_dir(dir: &Path) -> Result {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

fn write_file(path: &Path, text: &str) -> Result {
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn remove_file_if_exists(path: &Path) -> Result {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("cannot remove {}: {e}", path.display()))
        }
        _ => Ok(()),
    }
}
