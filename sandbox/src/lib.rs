//! The sandbox: loopback servers that speak the GitHub, GitLab and Bitbucket Cloud APIs in their
//! documented shapes (paths, JSON fields, headers, status codes, signatures) and check what the
//! real ones check, with faults that can be switched on. The demo and every test use it; only
//! the base URL differs from the real thing.

pub mod bitbucket;
pub mod faults;
pub mod github;
pub mod gitlab;
pub mod names;
pub mod oauth;
pub mod signing;

use std::net::SocketAddr;
use tokio::task::JoinHandle;

/// A sandbox server running on a loopback port.
pub struct Running {
    pub addr: SocketAddr,
    pub task: JoinHandle<()>,
}

impl Running {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on `127.0.0.1:port` (0 = any free port).
pub async fn serve(router: axum::Router, port: u16) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "sandbox server stopped");
        }
    });
    Ok(Running { addr, task })
}
