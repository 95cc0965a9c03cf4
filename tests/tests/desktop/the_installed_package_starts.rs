//! The `.deb` installs with dpkg, registers the `parley://` scheme in its desktop entry, and
//! the installed `/usr/bin/parley-app` opens its window. (`make test` builds the package
//! from the debug build first: `make package-debug`; `make package` makes the release one.)

use std::path::{Path, PathBuf};
use std::process::Command;

use parley_tests::desktop::Desktop;
use parley_tests::temp_dir;

use crate::common::*;

fn newest_deb() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("debug/bundle/deb");
    std::fs::read_dir(&dir)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .unwrap_or_else(|| {
            panic!(
                "no .deb in {}: build it first with `make package-debug` (make test does)",
                dir.display()
            )
        })
}

fn field(deb: &Path, name: &str) -> String {
    let out = Command::new("dpkg-deb")
        .arg("-f")
        .arg(deb)
        .arg(name)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_installed_package_starts() {
    let _one = ONE_WINDOW.lock().unwrap_or_else(|e| e.into_inner());
    let deb = newest_deb();
    let package = field(&deb, "Package");
    let depends = field(&deb, "Depends");
    assert!(!package.is_empty(), "{} has no package name", deb.display());
    for lib in ["libwebkit2gtk-4.1", "libvpx7", "libasound2"] {
        assert!(
            depends.contains(lib),
            "the package does not depend on {lib}: {depends}"
        );
    }
    let installed = Command::new("dpkg").arg("-i").arg(&deb).status().unwrap();
    assert!(
        installed.success(),
        "dpkg -i {} failed (make test runs as root)",
        deb.display()
    );
    let desktop_entry = std::fs::read_dir("/usr/share/applications")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .find(|t| t.contains("Exec=parley-app"))
        .expect("the package installs a desktop entry for parley-app");
    assert!(
        desktop_entry.contains("x-scheme-handler/parley"),
        "the desktop entry does not claim parley:// links:\n{desktop_entry}"
    );
    assert!(
        desktop_entry.contains("Exec=parley-app %u"),
        "a clicked link would not reach the app (no %u):\n{desktop_entry}"
    );
    let app = Path::new("/usr/bin/parley-app");
    assert!(app.is_file(), "{} was not installed", app.display());

    let dir = temp_dir("installed");
    let d = Desktop::launch(
        app,
        &dir.join("home"),
        &artifacts("the_installed_package_starts"),
    );
    d.find(&sel("link-input"));
    assert!(d.text_of_page().contains("Paste meeting link"));
    d.screenshot("01-installed-home");
    // The window's web process runs with the app's JavaScript heap limit (BENCHMARKS.md:
    // without it, the pictures' garbage swelled the process to 260 MiB in a call).
    let web = d
        .app_processes()
        .into_iter()
        .find(|&p| parley_tests::measure::name(p).starts_with("WebKitWebProces"))
        .expect("the window's web process");
    let environ = std::fs::read(format!("/proc/{web}/environ")).unwrap_or_default();
    assert!(
        environ
            .split(|&b| b == 0)
            .any(|v| v == b"JSC_gcMaxHeapSize=33554432"),
        "the web process runs without the JavaScript heap limit"
    );
    drop(d);
    let removed = Command::new("dpkg")
        .args(["-r", &package])
        .status()
        .unwrap();
    assert!(removed.success(), "dpkg -r {package} failed");
    assert!(!app.exists(), "dpkg -r left {}", app.display());
}
