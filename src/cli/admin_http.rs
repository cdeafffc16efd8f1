//! A minimal HTTP/1.1 client for the admin listener (hyper's connection
//! API over a tokio socket): one GET per connection, a deadline on the
//! whole exchange and a cap on the body size. `spate stats` and the tests
//! use it; it speaks plain HTTP to one address and nothing more.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::StatusCode;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::stats::StatsSnapshot;

/// Largest response body accepted (a stats snapshot of a very busy broker
/// is a few megabytes).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Default deadline for one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an admin request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Could not connect.
    #[error("cannot connect to the admin listener at {addr}: {source} (is `spate serve` running, and is --admin right?)")]
    Connect {
        /// Address tried.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("HTTP error talking to {addr}: {source}")]
    Http {
        /// Address.
        addr: String,
        /// Why.
        #[source]
        source: hyper::Error,
    },
    /// The request could not be built (bad address or path).
    #[error("bad request for {0}")]
    Request(String),
    /// The body was larger than [`MAX_BODY_BYTES`] or broke off.
    #[error("reading the response from {addr} failed: {reason}")]
    Body {
        /// Address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// No complete answer within the deadline.
    #[error("no answer from {addr} within {timeout:?}")]
    Timeout {
        /// Address.
        addr: String,
        /// The deadline.
        timeout: Duration,
    },
    /// The server answered with a non-success status.
    #[error("{path} answered {status}: {body}")]
    Status {
        /// Path requested.
        path: String,
        /// Status.
        status: StatusCode,
        /// Body text (trimmed).
        body: String,
    },
    /// `/v1/stats` did not hold a stats snapshot.
    #[error("/v1/stats returned JSON that is not a stats snapshot: {0}")]
    Json(#[from] serde_json::Error),
}

/// `ADDR` without an optional `http://` prefix or trailing slash.
pub fn normalize_addr(addr: &str) -> &str {
    addr.trim_start_matches("http://").trim_end_matches('/')
}

/// GETs `path` from the admin listener at `addr` (`host:port`), returning
/// the status and body whatever the status.
pub async fn get(
    addr: &str,
    path: &str,
    timeout: Duration,
) -> Result<(StatusCode, Bytes), ClientError> {
    let addr = normalize_addr(addr);
    match tokio::time::timeout(timeout, get_inner(addr, path)).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::Timeout {
            addr: addr.to_owned(),
            timeout,
        }),
    }
}

async fn get_inner(addr: &str, path: &str) -> Result<(StatusCode, Bytes), ClientError> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|source| ClientError::Connect {
            addr: addr.to_owned(),
            source,
        })?;
    let http_err = |source| ClientError::Http {
        addr: addr.to_owned(),
        source,
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http_err)?;
    // The connection task ends when the response is read and the sender
    // dropped; errors surface through `send_request` as well.
    let conn = tokio::spawn(conn);
    let mut req = hyper::Request::get(path);
    // The admin bearer token (auth.admin_token), from the environment so
    // it never shows in a process listing.
    if let Some(t) = std::env::var("SPATE_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
    {
        req = req.header(hyper::header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = req
        .header(hyper::header::HOST, addr)
        .header(
            hyper::header::USER_AGENT,
            concat!("spate/", env!("CARGO_PKG_VERSION")),
        )
        .body(Empty::<Bytes>::new())
        .map_err(|_| ClientError::Request(format!("{addr}{path}")))?;
    let resp = sender.send_request(req).await.map_err(http_err)?;
    let status = resp.status();
    let body = Limited::new(resp.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|e| ClientError::Body {
            addr: addr.to_owned(),
            reason: e.to_string(),
        })?
        .to_bytes();
    drop(sender);
    conn.abort();
    Ok((status, body))
}

/// GETs `path` and fails unless the status is 2xx.
pub async fn get_ok(addr: &str, path: &str, timeout: Duration) -> Result<Bytes, ClientError> {
    let (status, body) = get(addr, path, timeout).await?;
    if !status.is_success() {
        return Err(ClientError::Status {
            path: path.to_owned(),
            status,
            body: String::from_utf8_lossy(&body).trim().to_owned(),
        });
    }
    Ok(body)
}

/// Fetches and decodes `/v1/stats`.
pub async fn fetch_stats(addr: &str, timeout: Duration) -> Result<StatsSnapshot, ClientError> {
    let body = get_ok(addr, "/v1/stats", timeout).await?;
    Ok(serde_json::from_slice(&body)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_accept_an_http_prefix() {
        assert_eq!(normalize_addr("http://127.0.0.1:7412/"), "127.0.0.1:7412");
        assert_eq!(normalize_addr("127.0.0.1:7412"), "127.0.0.1:7412");
    }

    #[tokio::test]
    async fn refused_connection_names_the_address() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        drop(l);
        let e = get(&addr, "/healthz", DEFAULT_TIMEOUT).await.unwrap_err();
        assert!(matches!(e, ClientError::Connect { .. }), "{e}");
        assert!(e.to_string().contains(&addr));
    }
}
