//! A minimal HTTP/1 client over one keep-alive connection (hyper's connection-level client),
//! for the load generator and the serving tests: one virtual user is one connection sending
//! one request at a time.

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use tokio::net::TcpStream;

/// A response: status and body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// One open connection to a server.
pub struct Client {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Result<Client> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP handshake")?;
        // The connection's I/O runs beside the requests; it ends when the server closes it.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Client { addr, sender })
    }

    pub async fn get(&mut self, path: &str) -> Result<Reply> {
        self.send(Method::GET, path, None, Bytes::new()).await
    }

    /// POSTs `body` as `application/json`.
    pub async fn post_json(&mut self, path: &str, body: impl Into<Bytes>) -> Result<Reply> {
        self.send(Method::POST, path, Some("application/json"), body.into())
            .await
    }

    /// Sends one request; a connection the server closed is reopened once.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Reply> {
        if self.sender.ready().await.is_err() {
            *self = Client::connect(self.addr).await?;
        }
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, self.addr.to_string());
        if let Some(ct) = content_type {
            request = request.header(hyper::header::CONTENT_TYPE, ct);
        }
        let request = request
            .body(Full::new(body))
            .context("building the request")?;
        let response = self
            .sender
            .send_request(request)
            .await
            .with_context(|| format!("request to {}{path}", self.addr))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .context("reading the response body")?
            .to_bytes();
        Ok(Reply { status, body })
    }
}
