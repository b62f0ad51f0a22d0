//! The accept loop: HTTP/1 connections served by hyper with a header read timeout (so a client
//! that trickles its request line and headers is dropped), a cap on open connections, and a
//! shutdown handle for in-process servers (`quill bench serve`, tests).

use super::api::{App, router};
use super::drain::DrainReport;
use anyhow::{Context, Result};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Server {
    /// Binds `addr` (port 0: any free port) and serves `app` on the current runtime.
    pub async fn start(
        addr: SocketAddr,
        app: Arc<App>,
        header_timeout: Duration,
        max_connections: usize,
    ) -> Result<Server> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(
            listener,
            app.clone(),
            header_timeout,
            Arc::new(Semaphore::new(max_connections.max(1))),
            stopped,
        ));
        Ok(Server {
            addr,
            app,
            stop,
            task,
        })
    }

    /// Stops accepting connections and waits for the accept loop to end (open connections
    /// finish their current request on their own).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Waits for the accept loop, which ends only if it fails to go on.
    pub async fn wait_for_accept_loop(&mut self) {
        let _ = (&mut self.task).await;
    }

    /// Drains (see `drain`): answers what is in flight, 503 to new requests, for at most
    /// `budget`; then stops accepting connections.
    pub async fn drain(self, budget: Duration) -> DrainReport {
        let report = self.app.drain.drain(budget).await;
        self.shutdown().await;
        report
    }
}

async fn accept_loop(
    listener: TcpListener,
    app: Arc<App>,
    header_timeout: Duration,
    connections: Arc<Semaphore>,
    mut stopped: watch::Receiver<bool>,
) {
    let service = TowerToHyperService::new(router(app));
    loop {
        // Past the connection cap, new connections wait in the kernel's backlog rather than
        // each taking a task and buffers.
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => p,
            _ = stopped.changed() => return,
        };
        let Ok(permit) = permit else { return };
        let stream = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => return,
        };
        let stream = match stream {
            Ok((stream, _)) => stream,
            // Out of file descriptors and the like: transient, and no reason to stop serving.
            Err(e) => {
                eprintln!("serve: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Replies are small and latency matters more than packet count.
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            // A client that resets or times out is its own problem, not the server's.
            let _ = conn.await;
            drop(permit);
        });
    }
}
