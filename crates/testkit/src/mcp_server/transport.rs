//! Putting a [`TestMcpServer`] on a wire: stdio (the binary's default), Streamable HTTP on a
//! loopback port, or one end of an in-process `tokio::io::duplex` pipe.

use axum::serve::ListenerExt;
use std::{io, net::SocketAddr};

use rmcp::{
    ServiceExt,
    transport::{
        StreamableHttpServerConfig, StreamableHttpService,
        streamable_http_server::session::local::LocalSessionManager,
    },
};
use tokio::{io::DuplexStream, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use super::{TestMcpServer, log, wrapper};

/// Buffer of the in-process pipe; bigger messages still pass, in pieces.
const DUPLEX_BUFFER: usize = 1024 * 1024;
/// Path of the MCP endpoint on the HTTP server.
const MCP_PATH: &str = "/mcp";

/// Serves `server` on this process's stdin and stdout until the client closes stdin.
pub async fn serve_stdio(server: TestMcpServer) -> io::Result<()> {
    let running = wrapper::Served(server)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(io::Error::other)?;
    let reason = running.waiting().await.map_err(io::Error::other)?;
    log(format_args!("stdio session ended: {reason:?}"));
    Ok(())
}

/// Serves `server` on one end of an in-process pipe and returns the other end, for a client
/// in the same test (`().serve(stream)`, `ClientServiceExt::serve_with_lifecycle(stream, ..)`).
/// The server task ends when the client end is dropped or closes.
pub fn serve_in_process(server: TestMcpServer) -> DuplexStream {
    let (client_end, server_end) = tokio::io::duplex(DUPLEX_BUFFER);
    tokio::spawn(async move {
        match wrapper::Served(server).serve(server_end).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(error) => log(format_args!("in-process session failed to start: {error}")),
        }
    });
    client_end
}

/// A running Streamable HTTP server; dropping the handle stops it.
#[derive(Debug)]
pub struct HttpServerHandle {
    addr: SocketAddr,
    stop: CancellationToken,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl HttpServerHandle {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of the MCP endpoint, e.g. `http://127.0.0.1:PORT/mcp`.
    pub fn url(&self) -> String {
        format!("http://{}{MCP_PATH}", self.addr)
    }

    /// Waits until the server stops by itself (it only does on an I/O error).
    pub async fn wait(mut self) -> io::Result<()> {
        self.join().await
    }

    /// Stops accepting requests, ends open sessions and waits for the server task.
    pub async fn shutdown(mut self) -> io::Result<()> {
        self.stop.cancel();
        self.join().await
    }

    async fn join(&mut self) -> io::Result<()> {
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for HttpServerHandle {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Serves `server` over Streamable HTTP at `http://ADDR/mcp` (port 0 picks a free port; bind a
/// loopback address). Sessions are used for `initialize` clients; 2026-07-28 requests are
/// served statelessly. Only loopback `Host` headers are accepted (rmcp's default).
pub async fn serve_http(server: TestMcpServer, addr: SocketAddr) -> io::Result<HttpServerHandle> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let config = StreamableHttpServerConfig::default().with_cancellation_token(stop.child_token());
    let reply = server.discover_reply();
    let stopping = stop.clone();
    let service: StreamableHttpService<TestMcpServer, LocalSessionManager> =
        StreamableHttpService::new(move || Ok(server.clone()), Default::default(), config);
    let router =
        axum::Router::new()
            .nest_service(MCP_PATH, service)
            .layer(axum::middleware::from_fn(move |request, next| {
                wrapper::http_discover(reply, stopping.clone(), request, next)
            }));
    let shutdown = stop.clone();
    let task = tokio::spawn(async move {
        // Small streamed writes would otherwise wait on delayed ACKs: 40 ms a request.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
    });
    Ok(HttpServerHandle {
        addr,
        stop,
        task: Some(task),
    })
}
