//! `parley-app`: the desktop app. `--export-bindings FILE` writes the UI's TypeScript bindings
//! and exits.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::process::ExitCode;

/// What the window's JavaScript heap may grow to before JavaScriptCore collects it, unless
/// the environment already says. Every decoded picture reaches the window as a fresh buffer
/// (80–280 MB a second in a call); with JavaScriptCore's own limit the web process saw-toothed
/// between 140 and 260 MiB, with this one it stays at 134–151 MiB at the same frame rate and
/// CPU (BENCHMARKS.md). The window's live data is a few MiB, so collection does not thrash.
const JS_HEAP_BYTES: &str = "33554432";

fn main() -> ExitCode {
    if std::env::var_os("JSC_gcMaxHeapSize").is_none() {
        // SAFETY: first thing in main, before any other thread exists that could read the
        // environment; WebKit's web process, started later, inherits it.
        unsafe { std::env::set_var("JSC_gcMaxHeapSize", JS_HEAP_BYTES) };
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, path] = args.as_slice()
        && flag == "--export-bindings"
    {
        return match parley_app::export_bindings(std::path::Path::new(path)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("parley-app: could not write the bindings to {path}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            // Parley's own code only: libraries underneath log addresses and SDP.
            tracing_subscriber::EnvFilter::new(parley_proto::log::filter_directives(Some(
                std::env::var("PARLEY_LOG").as_deref().unwrap_or("warn"),
            ))),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    #[cfg(target_os = "linux")]
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        eprintln!(
            "parley-app: there is no display here (neither DISPLAY nor WAYLAND_DISPLAY is set), so the window cannot open.\n\
             On a machine without a screen, use the headless client instead: parley-cli --help\n\
             (for example: parley-cli join '<invite link>' --name \"Your name\")."
        );
        return ExitCode::from(2);
    }
    match parley_app::run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("parley-app: the window could not start: {e}");
            ExitCode::FAILURE
        }
    }
}
