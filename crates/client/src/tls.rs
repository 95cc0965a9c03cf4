//! TLS for talking to servers: the web's root certificates (compiled in, no system lookup),
//! plus an optional extra CA for a self-hosted server with its own certificate authority.

use std::path::Path;
use std::sync::Arc;

use crate::error::ClientError;

/// A rustls client configuration trusting the Mozilla roots and, if given, the PEM CA file.
pub fn client_config(extra_ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        let pem = std::fs::read(path)
            .map_err(|e| ClientError::Tls(format!("cannot read {}: {e}", path.display())))?;
        let mut n = 0;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert =
                cert.map_err(|e| ClientError::Tls(format!("bad PEM in {}: {e}", path.display())))?;
            roots.add(cert).map_err(|e| {
                ClientError::Tls(format!("bad certificate in {}: {e}", path.display()))
            })?;
            n += 1;
        }
        if n == 0 {
            return Err(ClientError::Tls(format!(
                "no certificate in {}",
                path.display()
            )));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
