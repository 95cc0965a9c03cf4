use parley_tests::*;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// Try to open `/ws` with this `Origin` header (none: a native client). `Ok(())` if the
/// upgrade succeeded, else the HTTP status and body of the refusal.
async fn open(port: u16, origin: Option<&str>) -> Result<(), (u16, String)> {
    let mut req = format!("ws://127.0.0.1:{port}/ws")
        .into_client_request()
        .unwrap();
    if let Some(o) = origin {
        req.headers_mut()
            .insert("origin", HeaderValue::from_str(o).unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok(_) => Ok(()),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let body = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Err((resp.status().as_u16(), body))
        }
        Err(e) => panic!("unexpected failure: {e}"),
    }
}

#[test]
fn only_native_clients_and_the_servers_own_pages_may_connect() {
    let dir = temp_dir("origin");
    let server = ServerProc::start(&dir);
    let port = server.port;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // A native client sends no Origin.
        assert_eq!(open(port, None).await, Ok(()));
        // A page the server itself serves.
        let own = format!("http://127.0.0.1:{port}");
        assert_eq!(open(port, Some(&own)).await, Ok(()));
        assert_eq!(
            open(port, Some(&format!("http://localhost:{port}"))).await,
            Ok(())
        );
        // Another site, the same host on another port or scheme, a name rebound to loopback,
        // and the opaque origin of a sandboxed frame or file: all refused with a typed error.
        for foreign in [
            "https://evil.example".to_string(),
            format!("http://127.0.0.1:{}", port.wrapping_add(1)),
            format!("https://127.0.0.1:{port}"),
            format!("http://rebound.example:{port}"),
            "null".to_string(),
        ] {
            let (status, body) = open(port, Some(&foreign))
                .await
                .expect_err(&format!("{foreign} must be refused"));
            assert_eq!(status, 403, "{foreign}");
            assert!(body.contains("\"foreign_origin\""), "{foreign}: {body}");
        }
        // The server carries on: a native client still gets in.
        let mut c = Raw::connect(port).await;
        c.hello().await;
    });
}
