//! End to end: the real chat example (`examples/chat.rs` on tokio, and with the
//! `smol` and `blocking` features on smol and on threads; with the `axum` feature
//! `examples/axum_chat.rs`, the same room mounted in axum) as a child process, and
//! two pages of one headless Chromium chatting through it.
//!
//! The browser is driven with the Chrome DevTools Protocol over its WebSocket,
//! which our own tokio client connects to: `Target.createTarget` opens the two
//! pages, `Target.attachToTarget` (flat sessions) gives a session for each, and
//! `Runtime.evaluate` fills in and submits the page's forms as a person would,
//! then reads the message list back. Page A joins as `alice`, page B as `bob`;
//! A says something and both lists must show `alice: <message>`.
//!
//! Chromium is `$FERROSOCKET_INTEROP_CHROMIUM` (set by `cargo xtask interop`),
//! else `/usr/bin/chromium`. The test is `#[ignore]`d, so that a plain `cargo test
//! --workspace` (which `cargo xtask ci` runs, before Chromium is installed) lists it
//! as ignored; `cargo xtask interop` installs Chromium and runs it with
//! `--include-ignored`, the one run with peers in CI (`.ci/run`). By hand: `cargo test
//! -p ferrosocket --test chat_browser -- --include-ignored`.
//!
//! Without Chromium the test fails, saying how to install it (`common::require_peer`).
//! Only outside CI can it be skipped, and only explicitly: with
//! `FERROSOCKET_SKIP_INTEROP=1` it prints `SKIPPED: ...` and passes. When `CI` is set
//! (to anything but empty, `0` or `false`) that opt-out is refused.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use ferrosocket::Message;
use ferrosocket::tokio::WebSocketStream;

/// How long the page lists get to show a message, and the pages to join.
const WAIT: Duration = Duration::from_secs(15);
/// How long the chat server and Chromium get to start listening.
const START: Duration = Duration::from_secs(60);

type Ws = WebSocketStream<ferrosocket::tokio::MaybeTlsStream>;

// ---------------------------------------------------------------------------
// Child processes.

/// A child process, killed when dropped (the test passing or not), with a
/// directory to remove after it.
struct Guard {
    child: Child,
    remove: Option<PathBuf>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.remove {
            // Chromium's helper processes may still be writing there for a moment.
            for _ in 0..50 {
                if std::fs::remove_dir_all(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// The Chromium binary, or why there is none and how to install it.
fn chromium() -> Result<PathBuf, String> {
    match std::env::var_os("FERROSOCKET_INTEROP_CHROMIUM") {
        Some(path) => Ok(PathBuf::from(path)),
        None => {
            let path = Path::new("/usr/bin/chromium");
            path.is_file().then(|| path.to_owned()).ok_or_else(|| {
                "FERROSOCKET_INTEROP_CHROMIUM is not set and /usr/bin/chromium is absent \
                 (install: apt-get install chromium, or run cargo xtask interop, which does \
                 that as root)"
                    .to_owned()
            })
        }
    }
}

/// Builds the chat example `example` (with `features`) in this test's profile
/// and returns its binary.
fn build_chat(example: &str) -> PathBuf {
    // The features this test was built with, for every example: one build.
    let features: Vec<&str> = [
        (cfg!(feature = "axum"), "axum"),
        (cfg!(feature = "smol"), "smol"),
        (cfg!(feature = "blocking"), "blocking"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/chat_browser-<hash>
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_owned();
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev".to_owned(),
        Some(name) => name.to_owned(),
        None => "release".to_owned(),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let started = Instant::now();
    let status = Command::new(&cargo)
        .args(["build", "--profile", &profile, "-p", "ferrosocket"])
        .args(["--example", example])
        .args(features.iter().flat_map(|f| ["--features", f]))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", cargo.to_string_lossy()));
    assert!(status.success(), "building the {example} example failed");
    let binary = profile_dir
        .join("examples")
        .join(format!("{example}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "no {example} example at {}",
        binary.display()
    );
    println!(
        "chat_browser: example {example} built ({profile}) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    binary
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Starts the chat example on `port` with `args` and waits until it accepts
/// connections.
fn start_chat(binary: &Path, port: u16, args: &[&str]) -> Guard {
    let child = Command::new(binary)
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
    let mut chat = Guard {
        child,
        remove: None,
    };
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + START;
    loop {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return chat;
        }
        if let Some(status) = chat.child.try_wait().unwrap() {
            panic!("the chat example exited before listening: {status}");
        }
        assert!(Instant::now() < deadline, "the chat example never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts headless Chromium with remote debugging on a port of its choice;
/// returns it, the browser's DevTools WebSocket URL and its stderr so far (kept
/// being read, so the pipe never fills).
fn start_chromium(chromium: &Path) -> (Guard, String, Arc<Mutex<Vec<String>>>) {
    let profile = std::env::temp_dir().join(format!(
        "ferrosocket-chat-browser-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&profile).unwrap();
    let child = Command::new(chromium)
        .args(common::CHROMIUM_FLAGS)
        .arg("--remote-debugging-port=0")
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", chromium.display()));
    let mut browser = Guard {
        child,
        remove: Some(profile),
    };
    let stderr = browser.child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (url_tx, url_rx) = mpsc::channel();
    let lines = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.find("DevTools listening on ws://") {
                let url = line[at + "DevTools listening on ".len()..]
                    .trim()
                    .to_owned();
                let _ = url_tx.send(url);
            }
            lines.lock().unwrap().push(line);
        }
    });
    let Ok(url) = url_rx.recv_timeout(START) else {
        panic!(
            "Chromium printed no DevTools URL within {START:?}; its stderr:\n{}",
            log.lock().unwrap().join("\n")
        );
    };
    (browser, url, log)
}

// ---------------------------------------------------------------------------
// JSON, as little as CDP needs here.

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Decodes the JSON string whose body starts `text` (just after the opening
/// quote), up to its closing quote.
fn json_unescape(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = text.chars();
    let hex4 = |chars: &mut std::str::Chars<'_>| -> Option<u32> {
        let digits: String = chars.by_ref().take(4).collect();
        u32::from_str_radix(&digits, 16).ok()
    };
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let mut code = hex4(&mut chars)?;
                    if (0xd800..0xdc00).contains(&code) {
                        // A surrogate pair: \uD83E\uDD80.
                        if chars.next()? != '\\' || chars.next()? != 'u' {
                            return None;
                        }
                        let low = hex4(&mut chars)?;
                        code = 0x10000 + ((code - 0xd800) << 10) + (low.checked_sub(0xdc00)?);
                    }
                    out.push(char::from_u32(code)?);
                }
                c => out.push(c), // \" \\ \/
            },
            c => out.push(c),
        }
    }
}

/// The string value of the first `"key":"..."` in `json`.
fn string_field(json: &str, key: &str) -> Option<String> {
    let pattern = format!("\"{key}\":\"");
    let at = json.find(&pattern)? + pattern.len();
    json_unescape(&json[at..])
}

// ---------------------------------------------------------------------------
// The DevTools client.

struct Cdp {
    ws: Ws,
    next_id: u64,
}

impl Cdp {
    /// Sends `method` with `params` (a JSON object), in `session` if any, and
    /// returns the response (`{"id":N,"result":...}`), or the error response as
    /// `Err`. Events in between are skipped.
    async fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: &str,
    ) -> Result<String, String> {
        self.next_id += 1;
        let id = self.next_id;
        let session = session
            .map(|s| format!(",\"sessionId\":{}", json_string(s)))
            .unwrap_or_default();
        let command =
            format!("{{\"id\":{id},\"method\":\"{method}\",\"params\":{params}{session}}}");
        self.ws
            .send(Message::text(command))
            .await
            .map_err(|e| format!("send {method}: {e}"))?;
        let prefix = format!("{{\"id\":{id},");
        let answer = tokio::time::timeout(WAIT, async {
            loop {
                match self.ws.recv().await {
                    Some(Ok(Message::Text(text))) if text.as_str().starts_with(&prefix) => {
                        return Ok(text.as_str().to_owned());
                    }
                    Some(Ok(_)) => {} // an event, or a response to no one
                    Some(Err(e)) => return Err(format!("{method}: {e}")),
                    None => return Err(format!("{method}: the browser closed the connection")),
                }
            }
        })
        .await
        .map_err(|_| format!("{method}: no answer within {WAIT:?}"))??;
        if answer[prefix.len()..].starts_with("\"result\":") {
            Ok(answer)
        } else {
            Err(format!("{method}: {answer}"))
        }
    }

    /// Evaluates `expression` (which must give a string) in the page of `session`.
    async fn eval(&mut self, session: &str, expression: &str) -> Result<String, String> {
        let params = format!(
            "{{\"expression\":{},\"returnByValue\":true}}",
            json_string(expression)
        );
        let answer = self
            .call(Some(session), "Runtime.evaluate", &params)
            .await?;
        if answer.contains("\"exceptionDetails\":") {
            return Err(format!("{expression}: {answer}"));
        }
        match string_field(&answer, "type").as_deref() {
            Some("string") => string_field(&answer, "value")
                .ok_or_else(|| format!("{expression}: no value in {answer}")),
            _ => Err(format!("{expression}: not a string: {answer}")),
        }
    }

    /// Evaluates `expression` in `session` until `done` holds for its value (errors,
    /// e.g. while the page is still loading, count as not yet), at most [`WAIT`].
    async fn wait_for(
        &mut self,
        session: &str,
        what: &str,
        expression: &str,
        done: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        let started = Instant::now();
        let mut last;
        loop {
            last = self.eval(session, expression).await;
            if let Ok(value) = &last
                && done(value)
            {
                return Ok(value.clone());
            }
            if started.elapsed() > WAIT {
                return Err(format!(
                    "{what}: not within {WAIT:?}; last evaluation: {last:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Opens a page on `url` and returns the session attached to it.
    async fn open_page(&mut self, url: &str) -> String {
        let params = format!("{{\"url\":{}}}", json_string(url));
        let created = self
            .call(None, "Target.createTarget", &params)
            .await
            .unwrap();
        let target = string_field(&created, "targetId").expect("a targetId");
        let params = format!("{{\"targetId\":{},\"flatten\":true}}", json_string(&target));
        let attached = self
            .call(None, "Target.attachToTarget", &params)
            .await
            .unwrap();
        string_field(&attached, "sessionId").expect("a sessionId")
    }
}

// ---------------------------------------------------------------------------
// What the pages are made to do (see examples/chat.html).

/// Ready when the page's script has run: the join form is there.
const LOADED: &str =
    "String(document.readyState === 'complete' && !!document.getElementById('join'))";
/// Joined once the socket is open: the page then shows the message form and no
/// longer the join form, as rendered (computed style: a stylesheet rule must not
/// override the `hidden` attribute).
const JOINED: &str = "String(getComputedStyle(document.getElementById('say')).display !== 'none' \
     && getComputedStyle(document.getElementById('join')).display === 'none')";
/// The message list, one line per message.
const LOG: &str =
    "Array.from(document.querySelectorAll('#log li'), li => li.textContent).join('\\n')";

/// Types `text` into the input `input` and submits its form, as Enter would.
fn submit(input: &str, text: &str) -> String {
    format!(
        "(() => {{ const input = document.getElementById({}); input.value = {}; \
         input.dispatchEvent(new Event('input', {{ bubbles: true }})); \
         input.form.requestSubmit(); return 'submitted'; }})()",
        json_string(input),
        json_string(text)
    )
}

fn has_line(log: &str, line: &str) -> bool {
    log.lines().any(|l| l == line)
}

#[test]
#[ignore = "needs Chromium: `cargo xtask interop` runs it"]
fn two_pages_chat_through_the_example() {
    two_pages_chat_through("chat", &["--runtime", "tokio"]);
}

/// The same example and handler on smol.
#[cfg(feature = "smol")]
#[test]
#[ignore = "needs Chromium: `cargo xtask interop` runs it"]
fn two_pages_chat_through_the_example_on_smol() {
    two_pages_chat_through("chat", &["--runtime", "smol"]);
}

/// The same example and handler on threads (no async runtime).
#[cfg(feature = "blocking")]
#[test]
#[ignore = "needs Chromium: `cargo xtask interop` runs it"]
fn two_pages_chat_through_the_example_on_threads() {
    two_pages_chat_through("chat", &["--runtime", "blocking"]);
}

/// The same room mounted in axum: the page from an axum route, the WebSocket
/// route handed to the ferrosocket `Server` through axum's `Router`.
#[cfg(feature = "axum")]
#[test]
#[ignore = "needs Chromium: `cargo xtask interop` runs it"]
fn two_pages_chat_through_the_axum_example() {
    two_pages_chat_through("axum_chat", &[]);
}

fn two_pages_chat_through(example: &str, args: &[&str]) {
    let Some(chromium) = common::require_peer("headless Chromium (chat)", chromium()) else {
        return;
    };
    let started = Instant::now();
    let binary = build_chat(example);
    let port = free_port();
    let _chat = start_chat(&binary, port, args);
    let page_url = format!("http://127.0.0.1:{port}/");
    let (mut browser, devtools, browser_log) = start_chromium(&chromium);
    println!(
        "chat_browser: chat on {page_url}, Chromium DevTools at {devtools} after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let browser_log_tail = || {
        let log = browser_log.lock().unwrap();
        log[log.len().saturating_sub(20)..].join("\n")
    };

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let message = "hello from alice, through ferrosocket \u{1f980}";
    let result = rt.block_on(async {
        let (ws, _) = ferrosocket::tokio::connect(&devtools)
            .await
            .map_err(|e| format!("connecting to {devtools}: {e}"))?;
        let mut cdp = Cdp { ws, next_id: 0 };
        let a = cdp.open_page(&page_url).await;
        let b = cdp.open_page(&page_url).await;
        let pages_at = started.elapsed();
        for (session, name) in [(&a, "alice"), (&b, "bob")] {
            cdp.wait_for(session, &format!("{name}'s page loads"), LOADED, |v| {
                v == "true"
            })
            .await?;
            cdp.eval(session, &submit("name", name)).await?;
            cdp.wait_for(session, &format!("{name} joins"), JOINED, |v| v == "true")
                .await?;
        }
        let joined_at = started.elapsed();
        cdp.eval(&a, &submit("text", message)).await?;
        let sent = Instant::now();
        let expected = format!("alice: {message}");
        let log_b = cdp
            .wait_for(&b, "bob sees alice's message", LOG, |log| {
                has_line(log, &expected)
            })
            .await?;
        let to_b = sent.elapsed();
        let log_a = cdp
            .wait_for(&a, "alice sees her own message", LOG, |log| {
                has_line(log, &expected)
            })
            .await?;
        println!(
            "chat_browser: pages open at {:.2} s, both joined at {:.2} s, alice's message on \
             bob's page {:.0} ms after she sent it",
            pages_at.as_secs_f64(),
            joined_at.as_secs_f64(),
            to_b.as_secs_f64() * 1000.0
        );
        println!(
            "chat_browser: alice's page:\n  {}",
            log_a.replace('\n', "\n  ")
        );
        println!(
            "chat_browser: bob's page:\n  {}",
            log_b.replace('\n', "\n  ")
        );
        assert!(
            log_b.contains("* welcome to lobby, bob"),
            "bob was welcomed to the default room"
        );
        // A clean exit, so that no helper process outlives the browser.
        let _ = cdp.call(None, "Browser.close", "{}").await;
        Ok::<_, String>(())
    });
    if result.is_ok() {
        let deadline = Instant::now() + Duration::from_secs(10);
        while browser.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    drop(browser);
    if let Err(why) = result {
        panic!(
            "{why}\nChromium's stderr (last lines):\n{}",
            browser_log_tail()
        );
    }
    println!(
        "chat_browser: passed in {:.2} s",
        started.elapsed().as_secs_f64()
    );
}
