//! The real desktop window under test: Xvfb, `tauri-driver` with Debian's `WebKitWebDriver`,
//! and a small W3C WebDriver client over HTTP. Each [`Desktop`] has its own X display, its own
//! driver port and its own home directory, so tests do not share state.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long to wait for something to appear in the window (a deadline, not a timing bar).
pub const UI_WAIT: Duration = Duration::from_secs(30);

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

fn home_bin(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(std::env::var_os("HOME")?)
        .join(".cargo/bin")
        .join(name);
    p.is_file().then_some(p)
}

fn need(name: &str) -> PathBuf {
    which(name).or_else(|| home_bin(name)).unwrap_or_else(|| {
        panic!(
            "{name} is not installed; `make test` installs it (scripts/deps.sh): Xvfb and WebKitWebDriver come from Debian (xvfb, webkit2gtk-driver), tauri-driver from `cargo install tauri-driver`"
        )
    })
}

/// A running app window driven through WebDriver.
pub struct Desktop {
    xvfb: Child,
    driver: Child,
    http: reqwest::blocking::Client,
    base: String,
    session: String,
    /// Where screenshots and the app's log go.
    pub artifacts: PathBuf,
    /// The display the window is on (`:N`).
    pub display: String,
    /// When the app was asked to start, in ms since the epoch.
    pub launched_at_ms: u64,
    dbus: Child,
    /// The environment the app runs with (display, session bus, home).
    pub env: Vec<(String, std::ffi::OsString)>,
}

impl Desktop {
    /// Start Xvfb, tauri-driver and the app at `app` with `home` as its home directory.
    pub fn launch(app: &Path, home: &Path, artifacts: &Path) -> Desktop {
        Self::launch_with(app, home, artifacts, &[])
    }

    /// [`Desktop::launch`] with more environment for the app (e.g. `ALSA_CONFIG_PATH` for the
    /// test audio devices).
    pub fn launch_with(
        app: &Path,
        home: &Path,
        artifacts: &Path,
        extra_env: &[(String, std::ffi::OsString)],
    ) -> Desktop {
        std::fs::create_dir_all(artifacts).unwrap();
        let xvfb_bin = need("Xvfb");
        let driver_bin = need("tauri-driver");
        let native = need("WebKitWebDriver");
        // A display number nobody uses: Xvfb fails at once if it is taken, so try a few.
        // (A lock file left by an Xvfb that was killed also marks a number as taken.)
        let (xvfb, display) = (0..60)
            .find_map(|i| {
                let n = 90 + (std::process::id() % 400) + i * 7;
                if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                    || Path::new(&format!("/tmp/.X{n}-lock")).exists()
                {
                    return None;
                }
                let display = format!(":{n}");
                let mut child = Command::new(&xvfb_bin)
                    .args([
                        display.as_str(),
                        "-screen",
                        "0",
                        "1280x800x24",
                        "-nolisten",
                        "tcp",
                    ])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .ok()?;
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline {
                    if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                        return Some((child, display));
                    }
                    if child.try_wait().ok().flatten().is_some() {
                        return None;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = child.kill();
                None
            })
            .expect("Xvfb could not start on any display");
        let port = free_port();
        let native_port = free_port();
        let log = std::fs::File::create(artifacts.join("app.log")).unwrap();
        std::fs::create_dir_all(home).unwrap();
        // A session bus of its own: single-instance hand-over goes through D-Bus.
        let mut dbus = Command::new(need("dbus-daemon"))
            .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon");
        let mut bus = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(dbus.stdout.take().expect("dbus-daemon's output")),
            &mut bus,
        )
        .expect("the session bus address");
        let env: Vec<(String, std::ffi::OsString)> = [
            ("DISPLAY".into(), display.clone().into()),
            ("DBUS_SESSION_BUS_ADDRESS".into(), bus.trim().into()),
            ("HOME".into(), home.into()),
            ("XDG_CONFIG_HOME".into(), home.join(".config").into()),
            ("XDG_DATA_HOME".into(), home.join(".local/share").into()),
            ("XDG_CACHE_HOME".into(), home.join(".cache").into()),
            ("PARLEY_IDENTITY".into(), home.join("identity.key").into()),
            ("PARLEY_LOG".into(), "info".into()),
            ("LANG".into(), "en_US.UTF-8".into()),
        ]
        .into_iter()
        // WebKit's accelerated compositing needs a GPU; `PARLEY_TEST_COMPOSITING=1` keeps it
        // on (software GL under Xvfb) to compare.
        .chain(
            std::env::var_os("PARLEY_TEST_COMPOSITING")
                .is_none()
                .then(|| ("WEBKIT_DISABLE_COMPOSITING_MODE".into(), "1".into())),
        )
        .chain(extra_env.iter().cloned())
        .collect();
        let driver = Command::new(driver_bin)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .arg("--native-driver")
            .arg(native)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start tauri-driver");
        // Plain HTTP on loopback; the TLS config is only there because reqwest wants one.
        let tls = parley_client::tls::client_config(None).expect("TLS roots");
        let http = reqwest::blocking::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .no_proxy()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let mut d = Desktop {
            xvfb,
            driver,
            http,
            base,
            session: String::new(),
            artifacts: artifacts.to_path_buf(),
            display,
            launched_at_ms: 0,
            dbus,
            env,
        };
        let caps = json!({"capabilities": {"alwaysMatch": {
            "tauri:options": {"application": app.to_string_lossy()}
        }}});
        // The driver takes a moment to listen.
        let deadline = Instant::now() + UI_WAIT;
        let created = loop {
            d.launched_at_ms = now_ms();
            match d
                .http
                .post(format!("{}/session", d.base))
                .json(&caps)
                .send()
            {
                Ok(r) => break r.json::<Value>().expect("session answer is JSON"),
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200))
                }
                Err(e) => panic!(
                    "tauri-driver did not answer: {e}; log in {}",
                    d.artifacts.display()
                ),
            }
        };
        d.session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_string();
        d
    }

    /// The app's process and its WebKit processes (web content, network).
    pub fn app_processes(&self) -> Vec<u32> {
        crate::measure::tree(self.driver.id())
            .into_iter()
            .find(|&p| crate::measure::name(p).starts_with("parley-app"))
            .map(crate::measure::tree)
            .unwrap_or_default()
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().expect("WebDriver request");
        let v: Value = resp.json().expect("WebDriver answers JSON");
        v["value"].clone()
    }

    fn ok(v: &Value) -> bool {
        v.get("error").is_none()
    }

    /// Run a script in the window; its return value.
    pub fn script(&self, source: &str, args: Vec<Value>) -> Value {
        let v = self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": source, "args": args})),
        );
        assert!(Self::ok(&v), "script failed: {v}");
        v
    }

    /// Minimise the window (WebDriver's "minimize window"): the person has turned away to
    /// another application.
    pub fn minimize(&self) -> Value {
        self.call(reqwest::Method::POST, "/window/minimize", Some(json!({})))
    }

    /// Run an async script (it calls `arguments[arguments.length - 1]` with its result).
    pub fn script_async(&self, source: &str) -> Value {
        let v = self.call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": source, "args": []})),
        );
        assert!(Self::ok(&v), "async script failed: {v}");
        v
    }

    /// Find one element by CSS selector, if present now.
    pub fn find_now(&self, css: &str) -> Option<String> {
        let v = self.call(
            reqwest::Method::POST,
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.get(ELEMENT_KEY)
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// Wait for an element by CSS selector.
    pub fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + UI_WAIT;
        loop {
            if let Some(e) = self.find_now(css) {
                return e;
            }
            if Instant::now() > deadline {
                self.screenshot("timeout");
                panic!(
                    "no element {css:?} within {UI_WAIT:?}; page text: {}",
                    self.text_of_page()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait until `pred` holds for the page (checked every 100 ms).
    pub fn wait_for(&self, what: &str, mut pred: impl FnMut(&Desktop) -> bool) {
        let deadline = Instant::now() + UI_WAIT;
        while !pred(self) {
            if Instant::now() > deadline {
                self.screenshot("timeout");
                panic!(
                    "{what}: not within {UI_WAIT:?}; page text: {}",
                    self.text_of_page()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Click an element (waits for it).
    ///
    /// A disabled control is waited on until it is enabled, as a person waits for a
    /// button to light up: a click right after typing can otherwise reach a button the
    /// page has not re-rendered yet, and WebDriver reports such a click as done though
    /// nothing happened.
    pub fn click(&self, css: &str) {
        let mut e = self.find(css);
        let deadline = Instant::now() + UI_WAIT;
        loop {
            let v = self.call(reqwest::Method::GET, &format!("/element/{e}/enabled"), None);
            if v.as_bool() != Some(false) {
                break;
            }
            if Instant::now() > deadline {
                self.screenshot("timeout");
                panic!(
                    "{css} stayed disabled for {UI_WAIT:?}; page text: {}",
                    self.text_of_page()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
            // The page may have replaced the element while it re-rendered.
            e = self.find(css);
        }
        // Panels scroll: bring the element into view as a person would before clicking.
        self.script(
            "arguments[0].scrollIntoView({block: 'center'})",
            vec![json!({ ELEMENT_KEY: e })],
        );
        let v = self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            Some(json!({})),
        );
        if Self::ok(&v) {
            return;
        }
        // WebKitWebDriver sometimes calls an element that has just appeared "not
        // interactable" although it is on screen; move the pointer there and press, as a
        // person would.
        let actions = json!({"actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [
                {"type": "pointerMove", "duration": 0, "origin": { ELEMENT_KEY: e }, "x": 0, "y": 0},
                {"type": "pointerDown", "button": 0},
                {"type": "pointerUp", "button": 0}
            ]
        }]});
        let a = self.call(reqwest::Method::POST, "/actions", Some(actions));
        assert!(
            Self::ok(&a),
            "click on {css} failed: {v}, and by pointer: {a}"
        );
    }

    /// Type into an input (waits for it; clears it first).
    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        let _ = self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/clear"),
            Some(json!({})),
        );
        let v = self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        );
        assert!(Self::ok(&v), "typing into {css} failed: {v}");
    }

    /// Type `text` into a field (waits for it) after what it holds, keys one by one, as a
    /// person would (the caret goes to the end first).
    pub fn keys_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        let v = self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        );
        assert!(Self::ok(&v), "typing into {css} failed: {v}");
    }

    /// Draw on a canvas (waits for it) with a pointer: down at the first point, through the
    /// others, up at the last; points in fractions (0–1) of the canvas's width and height.
    pub fn draw_on(&self, css: &str, points: &[(f64, f64)]) {
        let e = self.find(css);
        let pts: Vec<Value> = points.iter().map(|(x, y)| json!([x, y])).collect();
        let done = self.script(
            "const [canvas, pts] = arguments; const r = canvas.getBoundingClientRect();              const at = ([x, y]) => ({clientX: r.left + x * r.width, clientY: r.top + y * r.height,                pointerId: 7, pointerType: 'mouse', isPrimary: true, bubbles: true, button: 0, buttons: 1});              canvas.dispatchEvent(new PointerEvent('pointerdown', at(pts[0])));              for (const p of pts.slice(1)) canvas.dispatchEvent(new PointerEvent('pointermove', at(p)));              canvas.dispatchEvent(new PointerEvent('pointerup', {...at(pts[pts.length - 1]), buttons: 0}));              return true",
            vec![json!({ ELEMENT_KEY: e }), json!(pts)],
        );
        assert_eq!(done, json!(true), "drawing on {css}: {done}");
    }

    /// Choose the file at `path` in a file input (waits for it), as the file picker does.
    pub fn choose_file(&self, css: &str, path: &std::path::Path) {
        let e = self.find(css);
        let v = self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({"text": path.display().to_string()})),
        );
        assert!(
            Self::ok(&v),
            "choosing {} in {css} failed: {v}",
            path.display()
        );
    }

    /// Paste `text` into an input (waits for it) as Ctrl+V does: a `paste` event carrying the
    /// text, for the page's paste handler. Returns when the event was sent, in ms since the
    /// epoch (the window's `Date.now()`).
    pub fn paste_into(&self, css: &str, text: &str) -> u64 {
        let e = self.find(css);
        let at = self.script(
            "const [field, text] = arguments; field.focus(); \
             const data = new DataTransfer(); data.setData('text/plain', text); \
             const at = Date.now(); \
             field.dispatchEvent(new ClipboardEvent('paste', \
             {clipboardData: data, bubbles: true, cancelable: true})); \
             return at",
            vec![json!({ ELEMENT_KEY: e }), json!(text)],
        );
        at.as_u64()
            .unwrap_or_else(|| panic!("pasting into {css}: the script answered {at}"))
    }

    /// The visible text of an element.
    pub fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.call(reqwest::Method::GET, &format!("/element/{e}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The whole page's text (for failure messages).
    pub fn text_of_page(&self) -> String {
        let v = self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": "return document.body ? document.body.innerText : ''", "args": []})),
        );
        v.as_str().unwrap_or_default().chars().take(2000).collect()
    }

    /// Save a screenshot of the screen (the window) as `<name>.png` among the artifacts; its
    /// PNG bytes. Taken from the X display with ImageMagick's `import`, as a person would see
    /// it (WebKitWebDriver's own screenshot command hangs under Xvfb here).
    pub fn screenshot(&self, name: &str) -> Vec<u8> {
        let out = Command::new(need("import"))
            .args(["-display", &self.display, "-window", "root", "png:-"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .expect("run import");
        assert!(
            out.status.success() && !out.stdout.is_empty(),
            "import failed on {}",
            self.display
        );
        let _ = std::fs::write(self.artifacts.join(format!("{name}.png")), &out.stdout);
        out.stdout
    }

    /// The part of the screen an element covers (also saved as `<name>.png`).
    pub fn element_picture(&self, css: &str, name: &str) -> Picture {
        let e = self.find(css);
        let rect = self.call(reqwest::Method::GET, &format!("/element/{e}/rect"), None);
        // The window has no decorations under a bare Xvfb; its page starts at its origin.
        let origin = self.script("return [window.screenX, window.screenY]", vec![]);
        let at = |v: &Value, k: &str| v[k].as_f64().unwrap_or(0.0).round().max(0.0) as u32;
        let ox = origin[0].as_f64().unwrap_or(0.0).max(0.0) as u32;
        let oy = origin[1].as_f64().unwrap_or(0.0).max(0.0) as u32;
        let full = Picture::from_png(&self.screenshot(&format!("{name}-screen")));
        let part = full.crop(
            ox + at(&rect, "x"),
            oy + at(&rect, "y"),
            at(&rect, "width"),
            at(&rect, "height"),
        );
        let _ = std::fs::write(self.artifacts.join(format!("{name}.png")), part.to_png());
        part
    }

    /// The app's log so far (tauri-driver, WebKitWebDriver and the app share it).
    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(self.artifacts.join("app.log")) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .http
                .delete(format!("{}/session/{}", self.base, self.session))
                .timeout(Duration::from_secs(10))
                .send();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // SIGTERM first, so Xvfb removes its lock file and socket; SIGKILL if it lingers.
        let _ = Command::new("kill")
            .args(["-TERM", &self.xvfb.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && self.xvfb.try_wait().ok().flatten().is_none() {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.xvfb.kill();
        let _ = self.xvfb.wait();
        let _ = self.dbus.kill();
        let _ = self.dbus.wait();
    }
}

/// Milliseconds since the epoch (the window's `Date.now()` uses the same clock).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Decode standard base64 (what WebDriver screenshots are).
pub fn decode_base64(s: &str) -> Vec<u8> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for v in s.bytes().filter_map(val) {
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// A decoded screenshot: RGBA pixels.
pub struct Picture {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// RGBA, row by row.
    pub rgba: Vec<u8>,
}

impl Picture {
    /// Decode PNG bytes.
    pub fn from_png(png_bytes: &[u8]) -> Picture {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().expect("a PNG screenshot");
        let mut buf = vec![0; reader.output_buffer_size().expect("PNG size")];
        let info = reader.next_frame(&mut buf).expect("PNG frame");
        let channels = info.color_type.samples();
        let rgba = buf[..info.buffer_size()]
            .chunks(channels)
            .flat_map(|p| match channels {
                4 => [p[0], p[1], p[2], p[3]],
                3 => [p[0], p[1], p[2], 255],
                _ => [p[0], p[0], p[0], 255],
            })
            .collect();
        Picture {
            width: info.width,
            height: info.height,
            rgba,
        }
    }

    /// The rectangle at (`x`, `y`) of `w` × `h` pixels, clipped to the picture.
    pub fn crop(&self, x: u32, y: u32, w: u32, h: u32) -> Picture {
        let x = x.min(self.width);
        let y = y.min(self.height);
        let w = w.min(self.width - x);
        let h = h.min(self.height - y);
        let mut rgba = Vec::with_capacity((w * h * 4) as usize);
        for row in y..y + h {
            let start = ((row * self.width + x) * 4) as usize;
            rgba.extend_from_slice(&self.rgba[start..start + (w * 4) as usize]);
        }
        Picture {
            width: w,
            height: h,
            rgba,
        }
    }

    /// Encode as PNG.
    pub fn to_png(&self) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, self.width.max(1), self.height.max(1));
            enc.set_color(png::ColorType::Rgba);
            enc.set_depth(png::BitDepth::Eight);
            if let Ok(mut w) = enc.write_header() {
                let _ = w.write_image_data(&self.rgba);
            }
        }
        out
    }

    /// Share of pixels whose colour differs by more than `threshold` (sum of RGB) between two
    /// pictures of the same size.
    pub fn changed_share(&self, other: &Picture, threshold: u32) -> f64 {
        assert_eq!((self.width, self.height), (other.width, other.height));
        let n = self.rgba.len() / 4;
        let changed = self
            .rgba
            .chunks(4)
            .zip(other.rgba.chunks(4))
            .filter(|(a, b)| (0..3).map(|i| a[i].abs_diff(b[i]) as u32).sum::<u32>() > threshold)
            .count();
        changed as f64 / n.max(1) as f64
    }

    /// Number of distinct colours (coarsely quantised): a flat or black tile has very few.
    pub fn colours(&self) -> usize {
        let mut seen = std::collections::HashSet::new();
        for p in self.rgba.chunks(4) {
            seen.insert((p[0] >> 4, p[1] >> 4, p[2] >> 4));
        }
        seen.len()
    }
}
