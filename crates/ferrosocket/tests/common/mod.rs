//! Shared by the tests that need real peers (`interop`, `chat_browser`): Chromium's
//! flags, and what a missing peer means ([`require_peer`]).

/// Headless Chromium as these tests run it: no sandbox (root in CI), no GPU, and
/// none of the background networking that this machine's closed network refuses
/// by the dozen. Add `--user-data-dir` (a fresh directory) and the rest.
pub(crate) const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// The explicit opt-out for a developer machine without the peers: with it set (to
/// anything but empty, `0` or `false`) and `CI` not set, a test whose peer is missing
/// prints `SKIPPED: ...` and passes. Without it a missing peer fails the test, and under
/// `CI` it is refused: nothing goes green by accident.
pub(crate) const SKIP_ENV: &str = "FERROSOCKET_SKIP_INTEROP";

/// Whether the environment variable `name` is set to something other than empty, `0`
/// or `false` (as `CI=true` is).
fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|value| {
        let value = value.trim();
        !value.is_empty() && value != "0" && !value.eq_ignore_ascii_case("false")
    })
}

/// The one place deciding what a missing peer means. `found` is the peer (a
/// Chromium binary, the Python interpreter and `websockets`) or why it is missing,
/// with how to install it. Returns the peer; `None` (the caller returns, the test
/// passing) only when skipping was asked for with [`SKIP_ENV`] outside CI; panics
/// otherwise.
pub(crate) fn require_peer<T>(peer: &str, found: Result<T, String>) -> Option<T> {
    let why = match found {
        Ok(peer) => return Some(peer),
        Err(why) => why,
    };
    let install = "`cargo xtask interop` installs the peers and runs these tests with them";
    if flag("CI") {
        let refused = if flag(SKIP_ENV) {
            format!(" ({SKIP_ENV} is refused when CI is set)")
        } else {
            String::new()
        };
        panic!("{peer} is missing and CI is set, so this fails{refused}: {why}; {install}");
    }
    if flag(SKIP_ENV) {
        println!("SKIPPED ({SKIP_ENV} is set): {peer}: {why}");
        return None;
    }
    panic!(
        "{peer} is missing: {why}; {install}, or set {SKIP_ENV}=1 to skip this test \
         explicitly (outside CI only)"
    );
}
