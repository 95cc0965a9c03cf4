//! What Parley's programs may log. `PARLEY_LOG` sets the level of Parley's own code only:
//! libraries underneath (str0m, webrtc, hyper, rustls, tungstenite …) log participants'
//! addresses, ICE candidates and SDP at debug and trace level, so they are switched off at
//! every level. Feed the result to `tracing_subscriber::EnvFilter::new`.

/// The target prefix every Parley crate's log lines carry.
const OURS: &str = "parley";

/// Filter directives for `spec` (the value of `PARLEY_LOG`; `None`: `info`). A bare level
/// (`debug`) applies to Parley's code; directives for Parley's targets
/// (`parley_server::sfu=trace`) are kept; anything naming another target is dropped, and every
/// other target is off.
pub fn filter_directives(spec: Option<&str>) -> String {
    let mut out = String::from("off");
    let mut any = false;
    for part in spec.unwrap_or("info").split(',').map(str::trim) {
        if part.is_empty() {
            continue;
        }
        let is_level = matches!(
            part.to_ascii_lowercase().as_str(),
            "off" | "error" | "warn" | "info" | "debug" | "trace"
        );
        if is_level {
            out.push_str(&format!(",{OURS}={part}"));
            any = true;
        } else if part.starts_with(OURS)
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_:=[]{}.,\" ".contains(c))
        {
            out.push(',');
            out.push_str(part);
            any = true;
        }
    }
    if !any {
        out.push_str(&format!(",{OURS}=info"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_parleys_own_code_logs_whatever_is_asked() {
        assert_eq!(filter_directives(None), "off,parley=info");
        assert_eq!(filter_directives(Some("debug")), "off,parley=debug");
        assert_eq!(
            filter_directives(Some("trace,str0m=trace,webrtc_ice=debug")),
            "off,parley=trace"
        );
        assert_eq!(
            filter_directives(Some("info,parley_server::sfu=trace")),
            "off,parley=info,parley_server::sfu=trace"
        );
        assert_eq!(filter_directives(Some("hyper=debug")), "off,parley=info");
        assert_eq!(filter_directives(Some("")), "off,parley=info");
    }
}
