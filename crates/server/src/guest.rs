//! The browser guest: the page an invite link opens in a browser (`GET /m/{token}`) and the
//! few files it loads (`GET /guest/…`), read once at start from the configured `guest_dir`
//! (`make web` builds them). The page offers "Open in the Parley app" and "Join in this
//! browser"; joining runs the same meeting engine as the app, compiled to WebAssembly, so the
//! guest is end-to-end encrypted like everyone else. The link's `#k=` key is in the URL's
//! fragment, which browsers never send: the server serves the page without seeing it.
//!
//! Every file is named in the page with its Subresource Integrity hash (SHA-384), and the
//! content security policy lets the page load nothing but this server's own files and talk to
//! nothing but this server.

use std::path::Path;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::Digest as _;

/// The files the page may load: their paths under `/guest/` and content types. Nothing else
/// is served from the directory.
const FILES: [(&str, &str); 5] = [
    ("guest.js", "text/javascript; charset=utf-8"),
    ("guest-worker.js", "text/javascript; charset=utf-8"),
    ("guest.css", "text/css; charset=utf-8"),
    ("pkg/parley_web.js", "text/javascript; charset=utf-8"),
    ("pkg/parley_web_bg.wasm", "application/wasm"),
];

/// What the page may do: run this server's scripts and WebAssembly, use its stylesheet, and
/// connect to this server only (the signaling WebSocket, the files' fetches). The engine's
/// worker starts from a `blob:` the page made of files it checked against their hashes
/// (a worker script cannot carry an integrity attribute).
pub const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
    worker-src blob:; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// The guest's page and files, in memory.
#[derive(Debug)]
pub struct GuestFiles {
    page: String,
    files: Vec<GuestFile>,
}

/// One file: its path, content type, bytes, and the same gzipped (when that is smaller).
#[derive(Debug)]
struct GuestFile {
    name: &'static str,
    kind: &'static str,
    bytes: Bytes,
    gzipped: Option<Bytes>,
}

/// `bytes` gzipped, if that makes them smaller.
fn gzip(bytes: &[u8]) -> Option<Bytes> {
    use std::io::Write as _;
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(bytes).ok()?;
    let out = z.finish().ok()?;
    (out.len() < bytes.len()).then(|| Bytes::from(out))
}

/// `sha384-<base64>`, as Subresource Integrity writes it.
pub fn integrity(bytes: &[u8]) -> String {
    let digest = sha2::Sha384::digest(bytes);
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

impl GuestFiles {
    /// Read the guest's files from `dir`; an error names the file that could not be read.
    pub fn load(dir: &Path) -> Result<GuestFiles, String> {
        let mut files = Vec::with_capacity(FILES.len());
        for (name, kind) in FILES {
            let path = dir.join(name);
            let bytes = std::fs::read(&path)
                .map_err(|e| format!("cannot read the guest's {}: {e}", path.display()))?;
            files.push(GuestFile {
                name,
                kind,
                gzipped: gzip(&bytes),
                bytes: Bytes::from(bytes),
            });
        }
        let hash = |name: &str| {
            files
                .iter()
                .find(|f| f.name == name)
                .map_or_else(String::new, |f| integrity(&f.bytes))
        };
        let page = PAGE
            .replace("{css}", &hash("guest.css"))
            .replace("{glue}", &hash("pkg/parley_web.js"))
            .replace("{worker}", &hash("guest-worker.js"))
            .replace("{wasm}", &hash("pkg/parley_web_bg.wasm"))
            .replace("{js}", &hash("guest.js"));
        Ok(GuestFiles { page, files })
    }

    /// The page.
    pub fn page(&self) -> Response {
        let mut r = Response::new(Body::from(self.page.clone()));
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        secure(h);
        r
    }

    /// One of the files (gzipped if the browser `accepts` it), or 404. Integrity hashes are
    /// of the files themselves, which the browser checks after unpacking.
    pub fn file(&self, path: &str, accepts: Option<&HeaderValue>) -> Response {
        let Some(f) = self.files.iter().find(|f| f.name == path) else {
            return (StatusCode::NOT_FOUND, "Not found\n").into_response();
        };
        let takes_gzip = accepts
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
        let gzipped = f.gzipped.as_ref().filter(|_| takes_gzip);
        let mut r = Response::new(Body::from(gzipped.unwrap_or(&f.bytes).clone()));
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(f.kind));
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if gzipped.is_some() {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        secure(h);
        r
    }
}

/// The headers every guest response carries.
fn secure(h: &mut axum::http::HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// The page; `{…}` are the files' integrity hashes. No inline script or style. The English
/// words are replaced by the page's script when the browser prefers German (`data-text`).
const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="parley-glue" content="{glue}">
<meta name="parley-worker" content="{worker}">
<meta name="parley-wasm" content="{wasm}">
<title>Parley meeting</title>
<link rel="stylesheet" href="/guest/guest.css" integrity="{css}">
<script type="module" src="/guest/guest.js" integrity="{js}"></script>
</head>
<body>
<main id="app" data-state="loading">
  <p id="rec-badge" role="status" hidden></p>
  <section id="choose">
    <h1 data-text="choose.heading">You are invited to a Parley meeting</h1>
    <p data-text="choose.explain">Parley meetings are end-to-end encrypted: the meeting server cannot see or hear them.</p>
    <p><a id="open-app" class="button" href="#" data-text="choose.app">Open in the Parley app</a></p>
    <p><button id="join-browser" type="button" disabled data-text="choose.browser">Join in this browser</button></p>
    <p id="unsupported" class="problem" role="alert" hidden></p>
    <noscript><p class="problem">Joining in the browser needs JavaScript. Or open the link in the Parley app.</p></noscript>
  </section>
  <form id="prejoin" hidden>
    <label for="name" data-text="prejoin.name">Your name</label>
    <input id="name" maxlength="64" autocomplete="nickname" required>
    <label for="passcode" data-text="prejoin.passcode">Passcode, if the meeting has one</label>
    <input id="passcode" type="password" autocomplete="off">
    <fieldset id="devices">
      <label class="switch"><input id="want-camera" type="checkbox"> <span data-text="prejoin.camera">Camera</span></label>
      <label class="switch"><input id="want-microphone" type="checkbox"> <span data-text="prejoin.microphone">Microphone</span></label>
      <p class="small" data-text="prejoin.devicesNote">Camera and microphone stay off until you turn them on.</p>
      <video id="preview" autoplay playsinline muted hidden></video>
      <meter id="level" min="0" max="1" value="0" data-label="prejoin.level" hidden></meter>
    </fieldset>
    <button id="join" type="submit" data-text="prejoin.join">Join</button>
  </form>
  <section id="meeting" hidden>
    <p id="status" role="status"></p>
    <p id="load-note" role="status" hidden></p>
    <p><span data-text="code.label">Security code:</span> <span id="code" data-text="code.none">not yet</span> <span id="members"></span></p>
    <div id="remote"></div>
    <p id="media-note" role="status"></p>
    <div id="controls" hidden>
      <button id="mic-button" type="button" aria-pressed="false"></button>
      <button id="camera-button" type="button" aria-pressed="false"></button>
      <button id="hand-button" type="button" aria-pressed="false"></button>
    </div>
    <h2 data-text="people.heading">People</h2>
    <ul id="people"></ul>
    <section id="polls-box" hidden>
      <h2 data-text="polls.heading">Polls</h2>
      <ol id="polls"></ol>
    </section>
    <h2 data-text="chat.heading">Chat</h2>
    <ul id="chat-log"></ul>
    <form id="chat-form">
      <input id="chat-input" maxlength="4000" autocomplete="off" data-label="chat.input" aria-label="Message">
      <button type="submit" data-text="chat.send">Send</button>
    </form>
    <button id="leave" type="button" data-text="controls.leave">Leave</button>
    <details id="privacy">
      <summary data-text="privacy.heading">Privacy</summary>
      <ul>
        <li data-text="privacy.e2ee"></li>
        <li id="privacy-server"></li>
        <li data-text="privacy.key"></li>
        <li data-text="privacy.speaking"></li>
        <li data-text="privacy.polls"></li>
        <li data-text="privacy.recording"></li>
        <li data-text="privacy.stores"></li>
        <li data-text="privacy.browser"></li>
      </ul>
    </details>
  </section>
</main>
</body>
</html>
"##;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_browser_that_takes_gzip_gets_it_and_unpacks_the_same_bytes() {
        use std::io::Read as _;
        let dir = std::env::temp_dir().join(format!("parley-guest-gz-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("pkg")).unwrap();
        for (name, _) in FILES {
            std::fs::write(dir.join(name), name.repeat(500)).unwrap();
        }
        let g = GuestFiles::load(&dir).unwrap();
        let body = |r: Response| async move {
            axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .unwrap()
        };
        let plain = g.file("pkg/parley_web_bg.wasm", None);
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        let plain = body(plain).await;
        let accepts = HeaderValue::from_static("br, gzip;q=0.9");
        let packed = g.file("pkg/parley_web_bg.wasm", Some(&accepts));
        assert_eq!(packed.headers()[header::CONTENT_ENCODING], "gzip");
        let packed = body(packed).await;
        assert!(packed.len() < plain.len() / 10);
        let mut unpacked = Vec::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_end(&mut unpacked)
            .unwrap();
        assert_eq!(unpacked, plain);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn every_file_is_named_with_its_hash_and_nothing_else_is_served() {
        let dir = std::env::temp_dir().join(format!("parley-guest-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("pkg")).unwrap();
        for (name, _) in FILES {
            std::fs::write(dir.join(name), format!("contents of {name}")).unwrap();
        }
        let g = GuestFiles::load(&dir).unwrap();
        for (name, _) in FILES {
            let hash = integrity(format!("contents of {name}").as_bytes());
            assert!(g.page.contains(&hash), "{name} is named with its hash");
        }
        assert!(!g.page.contains('{'), "every placeholder filled");
        assert_eq!(g.file("guest.js", None).status(), StatusCode::OK);
        assert_eq!(
            g.file("../config.toml", None).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(g.file("pkg", None).status(), StatusCode::NOT_FOUND);
        std::fs::remove_file(dir.join("guest.css")).unwrap();
        let e = GuestFiles::load(&dir).unwrap_err();
        assert!(e.contains("guest.css"), "{e}");
        // The known answer of SRI's own example (an empty file).
        assert_eq!(
            integrity(b""),
            "sha384-OLBgp1GsljhM2TJ+sbHjaiH9txEUvgdDTAzHv2P24donTt6/529l+9Ua0vFImLlb"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
