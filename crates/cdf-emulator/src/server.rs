//! HTTP(S) serving: accept loop, optional TLS, `x-request-id` on every response, the
//! per-connection switch that lets fault injection drop a connection without answering, and
//! `spawn_background` for tests. Fills the request extensions (`extensions`) and hands each
//! request to the router of `api`.

use axum::body::Body;
use axum::http::{HeaderValue, Request};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tower_service::Service;

use crate::extensions::{BaseUrl, ConnControl, RequestId};
use crate::{Emulator, EmulatorConfig};

pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn tls_acceptor(files: &TlsFiles) -> io::Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", files.cert.display())))?;
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", files.key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| io::Error::other(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves the emulator on `listener` until the process ends.
pub async fn serve(listener: TcpListener, config: EmulatorConfig) -> io::Result<()> {
    serve_with_shutdown(listener, Arc::new(Emulator::new(config)), None, std::future::pending()).await
}

/// Serves until `shutdown` completes. With `tls`, every connection is HTTPS.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    emu: Arc<Emulator>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let addr = listener.local_addr()?;
    let base = format!("{}://{}", if tls.is_some() { "https" } else { "http" }, addr);
    let router = crate::api::router(emu.clone());
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Running out of file descriptors and the like: keep serving the others.
                Err(_) => { tokio::time::sleep(std::time::Duration::from_millis(10)).await; continue; }
            },
            _ = &mut shutdown => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let emu = emu.clone();
        let base = base.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                Some(acceptor) => {
                    if let Ok(tls_stream) = acceptor.accept(stream).await {
                        serve_connection(TokioIo::new(tls_stream), router, emu, base).await;
                    }
                }
                None => serve_connection(TokioIo::new(stream), router, emu, base).await,
            }
        });
    }
}

async fn serve_connection<I>(io: I, router: axum::Router, emu: Arc<Emulator>, base: String)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let ctl = ConnControl::new();
    let ctl_for_requests = ctl.clone();
    let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        let request_id = emu.next_request_id();
        req.extensions_mut().insert(ctl_for_requests.clone());
        req.extensions_mut().insert(RequestId(request_id.clone()));
        req.extensions_mut().insert(BaseUrl(base.clone()));
        let mut router = router.clone();
        async move {
            let mut resp = router.call(req.map(Body::new)).await?;
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                resp.headers_mut().insert("x-request-id", v);
            }
            Ok::<_, std::convert::Infallible>(resp)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new().keep_alive(true).serve_connection(io, svc);
    tokio::select! {
        _ = conn => {}
        // Dropping the connection future closes the socket without a response.
        _ = ctl.dropped() => {}
    }
}

/// An emulator running on its own OS thread and tokio runtime; stops when dropped.
pub struct RunningEmulator {
    addr: SocketAddr,
    emulator: Arc<Emulator>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// `http://127.0.0.1:PORT/oauth2/token`
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.base_url())
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// Direct access to state, e.g. to change the token lifetime in a test.
    pub fn emulator(&self) -> &Arc<Emulator> {
        &self.emulator
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts the emulator on 127.0.0.1 with a free port on its own thread; returns once it listens.
pub fn spawn_background(config: EmulatorConfig) -> io::Result<RunningEmulator> {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let emulator = Arc::new(Emulator::new(config));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let emu = emulator.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("cdf-emulator")
        .build()?;
    let thread = std::thread::Builder::new().name("cdf-emulator".into()).spawn(move || {
        runtime.block_on(async move {
            let listener = TcpListener::from_std(std_listener).expect("listener registers with tokio");
            let _ = serve_with_shutdown(listener, emu, None, async {
                let _ = rx.await;
            })
            .await;
        });
        // Connections still open end with the runtime.
        runtime.shutdown_background();
    })?;
    Ok(RunningEmulator { addr, emulator, shutdown: Some(tx), thread: Some(thread) })
}
