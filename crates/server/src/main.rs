//! `parley-server`: signaling for Parley meetings. See `parley-server --help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than glibc's allocator: the SFU allocates a buffer per forwarded packet.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use parley_server::{Config, Mode, Server};

/// Parley's meeting server: signaling over WebSocket, meetings only the invited can enter.
///
/// With no configuration it serves this computer only (plain WebSocket on 127.0.0.1:7880),
/// and anyone on this computer may create meetings.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// A TOML configuration file (see --print-example-config).
    #[arg(long, short, env = "PARLEY_SERVER_CONFIG")]
    config: Option<PathBuf>,
    /// Address and port to listen on (overrides the file).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// How invite links name this server, e.g. https://meet.example.org (overrides the file).
    #[arg(long)]
    public_url: Option<String>,
    /// TLS certificate chain, PEM (overrides the file; needs --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key, PEM.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require host API tokens to create meetings (reads them from this file, one per line).
    #[arg(long)]
    api_tokens_file: Option<PathBuf>,
    /// Print an example configuration file with every setting and exit.
    #[arg(long)]
    print_example_config: bool,
}

/// mimalloc commits whole arenas eagerly by default; then every connection's buffer for an
/// announced WebSocket frame (reserved in full by tungstenite, however little arrives) costs
/// its full size in memory. Measured with 1,000 connections each sending 1.4 MiB of a frame
/// that announces 1.5 MiB (refused at 64 KiB): 897–904 MiB at peak with eager commit, 59 MiB
/// without. mimalloc reads the option when it starts, before `main`, and its first arena is
/// already committed by then: so the server starts itself again, once, with the option set
/// (an administrator's own setting is kept).
fn commit_memory_lazily() {
    const OPTION: &str = "MIMALLOC_ARENA_EAGER_COMMIT";
    if std::env::var_os(OPTION).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    use std::os::unix::process::CommandExt;
    // Only returns if the exec failed; then run as we are.
    let _ = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(OPTION, "0")
        .exec();
}

fn main() -> ExitCode {
    commit_memory_lazily();
    let args = Args::parse();
    if args.print_example_config {
        print!("{}", Config::example());
        return ExitCode::SUCCESS;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            // Parley's own code only: libraries underneath log addresses and SDP.
            tracing_subscriber::EnvFilter::new(parley_proto::log::filter_directives(Some(
                std::env::var("PARLEY_LOG").as_deref().unwrap_or("info"),
            ))),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let mut config = match &args.config {
        Some(path) => match Config::from_file(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("parley-server: {e}");
                return ExitCode::from(2);
            }
        },
        None => Config::default(),
    };
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let Some(u) = args.public_url {
        config.public_url = Some(u);
    }
    if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
        config.tls = Some(parley_server::config::TlsConfig { cert, key });
    }
    if let Some(f) = args.api_tokens_file {
        config.api_tokens_file = Some(f);
        config.mode = Mode::Standalone;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        // Poll the shared queue often: after a bulk admission wakes a thousand connections,
        // those that overflowed into it must not wait behind second rounds of the others.
        .global_queue_interval(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("parley-server: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let mode = config.mode;
        let server = match Server::bind(config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("parley-server: {e}");
                return ExitCode::from(2);
            }
        };
        let addr = server.local_addr();
        let scheme = if server.is_tls() { "https" } else { "http" };
        let who = match mode {
            Mode::Local => "anyone on this computer can create meetings",
            Mode::Standalone => "creating meetings needs a host API token",
        };
        // Tests and scripts read this line to learn the port.
        println!("Parley server listening on {scheme}://{addr} ({who})");
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        tokio::select! {
            () = server.run() => {}
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("shutting down");
            }
        }
        ExitCode::SUCCESS
    })
}
