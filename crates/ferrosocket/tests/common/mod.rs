//! Shared by the browser tests (`interop`, `chat_browser`).

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
