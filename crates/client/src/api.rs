//! The server's HTTP API: create a meeting.

use std::sync::Arc;
use std::time::Duration;

use parley_proto::ServerAddr;
use parley_proto::api::{ApiError, CreateMeeting, MeetingCreated};

use crate::error::ClientError;

/// `POST /api/meetings` on `server`, with a host API token if the server requires one.
pub async fn create_meeting(
    server: &ServerAddr,
    api_token: Option<&str>,
    request: &CreateMeeting,
    tls: Arc<rustls::ClientConfig>,
) -> Result<MeetingCreated, ClientError> {
    let connect_err = |e: reqwest::Error| crate::tls::connect_error(server, &e);
    let tls = crate::tls::for_server(server, tls)?;
    let client = reqwest::Client::builder()
        .use_preconfigured_tls((*tls).clone())
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ClientError::Tls(e.to_string()))?;
    let mut req = client
        .post(format!("{}/api/meetings", server.http_base()))
        .json(request);
    if let Some(t) = api_token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.map_err(connect_err)?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(connect_err)?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| ClientError::Protocol(e.to_string()));
    }
    match serde_json::from_slice::<ApiError>(&body) {
        Ok(e) => Err(ClientError::Api {
            status: status.as_u16(),
            kind: e.kind,
            message: e.message,
        }),
        Err(_) => Err(ClientError::Connect {
            server: server.http_base(),
            detail: format!("the server answered {status}"),
        }),
    }
}
