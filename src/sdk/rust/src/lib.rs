//! fledge-plugin-sdk: write sandboxed fledge plugins in Rust.
//!
//! A fledge wasm plugin is a WASI preview 1 program that talks to fledge through the
//! `fledge` import module (the fledge-v1 protocol as JSON messages). This crate wraps
//! those imports in the API plugin authors know from the native protocol:
//!
//! ```no_run
//! fn main() {
//!     let init = fledge_plugin_sdk::init();
//!     fledge_plugin_sdk::outputln(&format!("Hello, {}!", init.args.join(" ")));
//! }
//! ```
//!
//! Build for `wasm32-wasip1` (current Rust) or `wasm32-wasi` (older Rust, e.g.
//! Debian's). Every function that needs a capability (exec, store, metadata,
//! network) links the matching `fledge` import; fledge refuses to start a module
//! that imports one its grants do not allow, naming what to add to `[capabilities]`.
//! Off wasm (for `cargo test` on the host) the imports are stubs that panic, so the
//! JSON layer and your own logic stay testable natively.

pub mod json;

pub use json::{obj, Value};

mod raw {
    #[cfg(target_arch = "wasm32")]
    #[link(wasm_import_module = "fledge")]
    extern "C" {
        pub fn send(ptr: *const u8, len: i32);
        pub fn recv(ptr: *mut u8, max_len: i32) -> i32;
        pub fn exec(ptr: *const u8, len: i32) -> i32;
        pub fn store_set(ptr: *const u8, len: i32);
        pub fn store_get(ptr: *const u8, len: i32) -> i32;
        pub fn metadata(ptr: *const u8, len: i32) -> i32;
        pub fn http(ptr: *const u8, len: i32) -> i32;
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod stubs {
        fn off_wasm() -> ! {
            panic!("fledge imports exist only inside fledge's wasm sandbox (build for wasm32-wasip1 or wasm32-wasi)")
        }
        pub unsafe fn send(_: *const u8, _: i32) {
            off_wasm()
        }
        pub unsafe fn recv(_: *mut u8, _: i32) -> i32 {
            off_wasm()
        }
        pub unsafe fn exec(_: *const u8, _: i32) -> i32 {
            off_wasm()
        }
        pub unsafe fn store_set(_: *const u8, _: i32) {
            off_wasm()
        }
        pub unsafe fn store_get(_: *const u8, _: i32) -> i32 {
            off_wasm()
        }
        pub unsafe fn metadata(_: *const u8, _: i32) -> i32 {
            off_wasm()
        }
        pub unsafe fn http(_: *const u8, _: i32) -> i32 {
            off_wasm()
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    pub use stubs::*;
}

/// Send one fledge-v1 message (a JSON object with a `type`).
pub fn send(message: &Value) {
    let text = message.to_json();
    unsafe { raw::send(text.as_ptr(), text.len() as i32) }
}

/// Take everything pending in fledge's reply slot (the init message first, then the
/// answer to the last request). Empty when nothing is pending.
pub fn recv_all() -> String {
    let mut out: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = unsafe { raw::recv(buf.as_mut_ptr(), buf.len() as i32) };
        if n <= 0 {
            break;
        }
        out.extend_from_slice(&buf[..n as usize]);
        if (n as usize) < buf.len() {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Read exactly `len` pending bytes (what a request import said it left) as JSON.
fn take_reply(len: i32) -> Value {
    if len <= 0 {
        return Value::Null;
    }
    let mut buf = vec![0u8; len as usize];
    let n = unsafe { raw::recv(buf.as_mut_ptr(), len) };
    buf.truncate(n.max(0) as usize);
    json::parse(&String::from_utf8_lossy(&buf)).unwrap_or(Value::Null)
}

/// What fledge tells a plugin when it starts.
#[derive(Clone, Debug)]
pub struct Init {
    /// The command-line arguments after the plugin's command name.
    pub args: Vec<String>,
    pub plugin_name: String,
    pub plugin_version: String,
    pub fledge_version: String,
    /// The detected project (`null` outside one), as fledge sent it.
    pub project: Value,
    /// The GRANTED capabilities: `exec`, `store`, `metadata`, `filesystem`, `network`.
    pub capabilities: Value,
    /// The whole init message.
    pub raw: Value,
}

/// Read the init message. Call it once, first: it is the first thing pending.
pub fn init() -> Init {
    let raw = json::parse(&recv_all()).unwrap_or(Value::Null);
    let args = raw
        .get("args")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let plugin = raw.get("plugin").cloned().unwrap_or(Value::Null);
    Init {
        args,
        plugin_name: plugin.str_of("name"),
        plugin_version: plugin.str_of("version"),
        fledge_version: raw.get("fledge").map(|f| f.str_of("version")).unwrap_or_default(),
        project: raw.get("project").cloned().unwrap_or(Value::Null),
        capabilities: raw.get("capabilities").cloned().unwrap_or(Value::Null),
        raw,
    }
}

/// The arguments alone (reads the init message; use [`init`] when you need more).
pub fn args() -> Vec<String> {
    init().args
}

/// Text on fledge's stdout, verbatim (no newline added, as the protocol defines it).
pub fn output(text: &str) {
    send(&obj(vec![("type", "output".into()), ("text", text.into())]));
}

/// One line on fledge's stdout: `text` and a newline.
pub fn outputln(text: &str) {
    output(&format!("{}\n", text));
}

/// A log line on stderr: level is "error", "warn", "info" or "debug".
pub fn log(level: &str, message: &str) {
    send(&obj(vec![("type", "log".into()), ("level", level.into()), ("message", message.into())]));
}
pub fn info(message: &str) {
    log("info", message)
}
pub fn warn(message: &str) {
    log("warn", message)
}
pub fn error(message: &str) {
    log("error", message)
}
pub fn debug(message: &str) {
    log("debug", message)
}

/// A progress line (a bar when `total` is known); [`progress_done`] clears it.
pub fn progress(message: &str, current: Option<u64>, total: Option<u64>) {
    let mut m = vec![("type", Value::from("progress")), ("message", message.into())];
    if let Some(c) = current {
        m.push(("current", c.into()));
    }
    if let Some(t) = total {
        m.push(("total", t.into()));
    }
    send(&obj(m));
}
pub fn progress_done() {
    send(&obj(vec![("type", "progress".into()), ("done", true.into())]));
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Send a request through `send` and read its `{type:"response", id, value}` answer.
fn request(mut members: Vec<(&str, Value)>) -> Value {
    let id = format!("r{}", NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    members.insert(1, ("id", Value::String(id)));
    send(&obj(members));
    let reply = json::parse(&recv_all()).unwrap_or(Value::Null);
    reply.get("value").cloned().unwrap_or(Value::Null)
}

/// Ask for a line of text. Without a terminal fledge answers `default` (or ends the
/// run when there is none). `validate`: "non_empty", "integer", "path_exists" or "url".
pub fn prompt(message: &str, default: Option<&str>, validate: Option<&str>) -> String {
    let mut m = vec![("type", Value::from("prompt")), ("message", message.into())];
    if let Some(d) = default {
        m.push(("default", d.into()));
    }
    if let Some(v) = validate {
        m.push(("validate", v.into()));
    }
    request(m).as_str().unwrap_or("").to_string()
}

/// Ask yes or no. Without a terminal: `default`.
pub fn confirm(message: &str, default: bool) -> bool {
    request(vec![("type", "confirm".into()), ("message", message.into()), ("default", default.into())]).as_bool().unwrap_or(false)
}

/// Pick one of `options`; answers the chosen option's text.
pub fn select(message: &str, options: &[&str], default: Option<usize>) -> String {
    let mut m = vec![("type", Value::from("select")), ("message", message.into()), ("options", options.iter().map(|o| Value::from(*o)).collect::<Vec<_>>().into())];
    if let Some(d) = default {
        m.push(("default", d.into()));
    }
    request(m).as_str().unwrap_or("").to_string()
}

/// Pick any of `options`; answers the chosen options' texts.
pub fn multi_select(message: &str, options: &[&str], defaults: &[usize]) -> Vec<String> {
    let m = vec![
        ("type", Value::from("multi_select")),
        ("message", message.into()),
        ("options", options.iter().map(|o| Value::from(*o)).collect::<Vec<_>>().into()),
        ("defaults", defaults.iter().map(|d| Value::from(*d)).collect::<Vec<_>>().into()),
    ];
    request(m).as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

/// Keep `value` under `key` between runs (needs `store = true`).
pub fn store(key: &str, value: &Value) {
    let text = obj(vec![("key", key.into()), ("value", value.clone())]).to_json();
    unsafe { raw::store_set(text.as_ptr(), text.len() as i32) }
}

/// The value stored under `key`, or `Value::Null` (needs `store = true`).
pub fn load(key: &str) -> Value {
    let len = unsafe { raw::store_get(key.as_ptr(), key.len() as i32) };
    take_reply(len)
}

/// What a command run through [`exec`] did.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecResult {
    pub code: i64,
    pub stdout: String,
    pub stderr: String,
}

/// Run a shell command through fledge (needs `exec = true`). `timeout` in seconds.
pub fn exec(command: &str, cwd: Option<&str>, timeout: Option<u64>) -> ExecResult {
    let mut m = vec![("command", Value::from(command))];
    if let Some(c) = cwd {
        m.push(("cwd", c.into()));
    }
    if let Some(t) = timeout {
        m.push(("timeout", t.into()));
    }
    let text = obj(m).to_json();
    let v = take_reply(unsafe { raw::exec(text.as_ptr(), text.len() as i32) });
    ExecResult { code: v.get("code").and_then(Value::as_i64).unwrap_or(1), stdout: v.str_of("stdout"), stderr: v.str_of("stderr") }
}

/// Project details by key (`fledge_config`, `git_tags`, `git_status`, `git_log`,
/// `env`), as one object (needs `metadata = true`).
pub fn metadata(keys: &[&str]) -> Value {
    let text = Value::from(keys.iter().map(|k| Value::from(*k)).collect::<Vec<_>>()).to_json();
    take_reply(unsafe { raw::metadata(text.as_ptr(), text.len() as i32) })
}

/// End the run now with `code` (the same as returning from main with that status).
pub fn exit(code: i32) -> ! {
    std::process::exit(code)
}

/// An outbound HTTP request for [`http`].
#[derive(Clone, Debug, Default)]
pub struct HttpRequest {
    /// GET (default), HEAD, POST, PUT, PATCH, DELETE or OPTIONS.
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// Seconds; fledge cuts it to the run's deadline (default 30).
    pub timeout: Option<u64>,
}

impl HttpRequest {
    pub fn get(url: &str) -> HttpRequest {
        HttpRequest { method: "GET".into(), url: url.into(), ..Default::default() }
    }
    pub fn post(url: &str, body: &str) -> HttpRequest {
        HttpRequest { method: "POST".into(), url: url.into(), body: Some(body.into()), ..Default::default() }
    }
    pub fn header(mut self, name: &str, value: &str) -> HttpRequest {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What the server answered.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Lowercase names; repeated headers joined with ", ".
    pub headers: Vec<(String, String)>,
    /// The body as text; `None` when it is not UTF-8 (then see `body_base64`).
    pub body: Option<String>,
    pub body_base64: Option<String>,
    /// The URL that answered (after redirects).
    pub url: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        let lower = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == lower).map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> &str {
        self.body.as_deref().unwrap_or("")
    }
}

/// Send an HTTP(S) request (needs `network = true` and the host in
/// `[capabilities] hosts`). `Err` carries fledge's reason: a refused destination
/// ("refused: host ... is not in the plugin's [capabilities] hosts"), a time limit, a
/// size cap or a connection error.
pub fn http(req: &HttpRequest) -> Result<HttpResponse, String> {
    let mut m = vec![("method", Value::from(if req.method.is_empty() { "GET" } else { req.method.as_str() })), ("url", req.url.as_str().into())];
    if !req.headers.is_empty() {
        m.push(("headers", Value::Object(req.headers.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect())));
    }
    if let Some(b) = &req.body {
        m.push(("body", b.as_str().into()));
    }
    if let Some(t) = req.timeout {
        m.push(("timeout", t.into()));
    }
    let text = obj(m).to_json();
    let v = take_reply(unsafe { raw::http(text.as_ptr(), text.len() as i32) });
    if let Some(e) = v.get("error").and_then(Value::as_str) {
        return Err(e.to_string());
    }
    let headers = match v.get("headers") {
        Some(Value::Object(members)) => members.iter().map(|(k, val)| (k.clone(), val.as_str().unwrap_or("").to_string())).collect(),
        _ => Vec::new(),
    };
    Ok(HttpResponse {
        status: v.get("status").and_then(Value::as_i64).unwrap_or(0) as u16,
        headers,
        body: v.get("body").and_then(Value::as_str).map(str::to_string),
        body_base64: v.get("body_base64").and_then(Value::as_str).map(str::to_string),
        url: v.str_of("url"),
    })
}
