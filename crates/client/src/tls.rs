//! TLS for talking to servers: the web's root certificates (compiled in, no system lookup),
//! plus an optional extra CA for a self-hosted server with its own certificate authority, or,
//! for a meeting hosted on someone's own computer, exactly the certificate its invite link pins
//! ([`for_server`]).

use std::path::Path;
use std::sync::Arc;

use parley_proto::{CertPin, ServerAddr};
use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

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

/// The configuration to reach `server` with: `base` (the web's certificate authorities, or the
/// configured CA), unless the invite link pins the server's certificate. Then only that
/// certificate is accepted, whatever host name it carries, and no authority is asked.
pub fn for_server(
    server: &ServerAddr,
    base: Arc<rustls::ClientConfig>,
) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let Some(pin) = &server.pin else {
        return Ok(base);
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedCertificate {
        pin: pin.clone(),
        algorithms: provider.signature_verification_algorithms,
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The error for a failed connection to `server`: a certificate that is not the pinned one
/// gets its own explanation, since it may be an attack.
pub fn connect_error(server: &ServerAddr, error: &dyn std::error::Error) -> ClientError {
    // The whole chain: HTTP clients say only "error sending request" at the top.
    let mut detail = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !detail.contains(&text) {
            detail.push_str(": ");
            detail.push_str(&text);
        }
        source = e.source();
    }
    if server.pin.is_some() && detail.contains(PIN_MISMATCH) {
        ClientError::CertificateMismatch {
            server: server.http_base(),
        }
    } else {
        ClientError::Connect {
            server: server.http_base(),
            detail,
        }
    }
}

/// The pin of a certificate: the SHA-256 of its DER encoding, as an invite link carries it.
pub fn pin_of(certificate_der: &[u8]) -> CertPin {
    let digest = ring::digest::digest(&ring::digest::SHA256, certificate_der);
    let mut bytes = [0u8; CertPin::BYTES];
    bytes.copy_from_slice(digest.as_ref());
    CertPin::from_bytes(bytes)
}

/// The words for a server whose certificate is not the one its link pins.
pub const PIN_MISMATCH: &str = "the server did not show the certificate this invite link names";

/// Accepts exactly the certificate whose SHA-256 is `pin`, and checks that the server holds
/// its key (the handshake signature) like any other verifier.
#[derive(Debug)]
struct PinnedCertificate {
    pin: CertPin,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

/// rustls shows this error with `Debug` inside its own message, so both print the words
/// [`connect_error`] looks for.
struct PinMismatch;

impl std::fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(PIN_MISMATCH)
    }
}

impl std::fmt::Debug for PinMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(PIN_MISMATCH)
    }
}

impl std::error::Error for PinMismatch {}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if pin_of(end_entity.as_ref()) == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Other(rustls::OtherError(Arc::new(PinMismatch))),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
