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
pub mod persist;
pub mod signing;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

/// A sandbox server running on a loopback port.
pub struct Running {
    pub addr: SocketAddr,
    pub task: JoinHandle<()>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Running {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request answered so far, as `METHOD /path STATUS` (without the query), in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on `port` again when it is given and frees up within two seconds (the
/// previous run's server may still be closing), else on any free port.
pub async fn serve_again(router: axum::Router, port: u16) -> std::io::Result<Running> {
    if port != 0 {
        for _ in 0..20 {
            if let Ok(running) = serve(router.clone(), port).await {
                return Ok(running);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    serve(router, 0).await
}

/// Serves `router` on `127.0.0.1:port` (0 = any free port).
pub async fn serve(router: axum::Router, port: u16) -> std::io::Result<Running> {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    let router = router.layer(axum::middleware::from_fn(
        move |req: axum::extract::Request, next: axum::middleware::Next| {
            let seen = seen.clone();
            async move {
                let line = format!("{} {}", req.method(), req.uri().path());
                let resp = next.run(req).await;
                let line = format!("{line} {}", resp.status().as_u16());
                seen.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                resp
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "sandbox server stopped");
        }
    });
    Ok(Running { addr, task, requests })
}
