//! A server that closes idle keep-alive connections, as load balancers in front of CDF do: the
//! next request, even a create that is never resent, must go out on a fresh connection. The
//! emulator keeps connections open, so this is a small HTTP/1.1 server of its own.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cdf_client::{Credentials, Idempotency, Runtime, Session};
use serde_json::json;

struct IdleClosingServer {
    base_url: String,
    requests: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
}

fn start(idle_limit: Duration) -> IdleClosingServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::new(AtomicUsize::new(0));
    let (reqs, conns) = (requests.clone(), connections.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            conns.fetch_add(1, Ordering::SeqCst);
            let reqs = reqs.clone();
            std::thread::spawn(move || serve(stream, idle_limit, reqs));
        }
    });
    IdleClosingServer { base_url, requests, connections }
}

/// Answers requests on one connection until it has been idle for `idle_limit`, then closes it.
fn serve(mut stream: TcpStream, idle_limit: Duration, requests: Arc<Mutex<Vec<String>>>) {
    stream.set_read_timeout(Some(idle_limit)).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                // Idle too long: close, as a load balancer does.
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return,
                Err(_) => return,
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let length: usize = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
            .unwrap_or(0);
        while buf.len() < head_end + length {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..head_end + length);
        let mut line = head.lines().next().unwrap_or("").split(' ');
        let (method, target) = (line.next().unwrap_or(""), line.next().unwrap_or(""));
        let path = target.split('?').next().unwrap_or("").to_string();
        requests.lock().unwrap().push(format!("{method} {path}"));
        let (status, body) = if path == "/token" {
            ("200 OK", json!({ "access_token": "t", "token_type": "Bearer", "expires_in": 3600 }))
        } else {
            ("201 Created", json!({ "items": [] }))
        };
        let body = body.to_string();
        let resp = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(resp.as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn a_create_after_the_server_closed_the_idle_connection_goes_out_on_a_fresh_one() {
    let server = start(Duration::from_millis(150));
    let mut s = Session::new(
        common::server_config(&server.base_url, &format!("{}/token", server.base_url)),
        Credentials { client_id: "c".into(), client_secret: "s".into() },
        cdf_client::new_http_client(None).unwrap(),
    );
    s.retry = common::fast_retries();
    let rt = Runtime::new().unwrap();
    let create = json!({ "items": [{ "name": "no external id" }] });
    for round in 0..3 {
        // As between two statements of a backend: the runtime does not run, nobody reads the FIN.
        std::thread::sleep(Duration::from_millis(400));
        let r = rt.block_on(s.post_json("assets", &[], &create, Idempotency::NotIdempotent), &|| {});
        assert!(r.is_ok(), "round {round}: {:?}", r.err());
    }
    let requests = server.requests.lock().unwrap().clone();
    let creates = requests.iter().filter(|r| *r == "POST /api/v1/projects/demo/assets").count();
    assert_eq!(creates, 3, "each create arrived exactly once: {requests:?}");
    assert!(server.connections.load(Ordering::SeqCst) >= 3);
}
