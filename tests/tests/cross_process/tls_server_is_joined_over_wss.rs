use parley_tests::*;

#[test]
fn a_server_with_its_own_certificate_is_joined_over_tls() {
    let dir = temp_dir("tls");
    // A private CA and a certificate for localhost, as an organisation might run.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let (cert_path, key_path, ca_path) = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("ca.pem"),
    );
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    std::fs::write(&ca_path, ca.pem()).unwrap();
    let server = ServerProc::start_with(
        &dir,
        &[
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ],
        "info",
    );
    assert!(server.url.starts_with("https://"));
    let ca = ca_path.to_str().unwrap();
    let mut h = CliProc::spawn(
        &dir,
        "host",
        &[
            "--ca-file",
            ca,
            "host",
            "--server",
            &server.url,
            "--no-waiting-room",
        ],
    );
    let link = h.expect("invite")["link"].as_str().unwrap().to_string();
    assert!(link.starts_with("https://localhost:"), "{link}");
    h.expect("joined");
    let mut g = CliProc::spawn(
        &dir,
        "gus",
        &["--ca-file", ca, "join", &link, "--name", "Gus"],
    );
    g.expect("joined");
    // Without trusting that CA, the client refuses the server.
    let mut untrusting = CliProc::spawn(&dir, "eve", &["join", &link, "--name", "Eve"]);
    let e = untrusting.expect("cli_error");
    assert!(
        e["message"].as_str().unwrap().contains("Could not reach"),
        "{e}"
    );
}
