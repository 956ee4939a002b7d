//! Issue 10 item 2: an answer larger than `max_response_bytes` is a clean error naming the
//! endpoint, whether it announces its length or streams without end, and reading it never holds
//! much more than the cap. The emulator only sends sane bodies, so this is a small server of its own.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;

use cdf_client::{CdfError, Credentials, Idempotency, Runtime, Session};

/// Answers the token request, then every API request with `body_len` bytes of JSON, either with a
/// Content-Length or chunked without one.
fn start(body_len: usize, chunked: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = [0u8; 65536];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head).to_string();
                if text.starts_with("POST /token") {
                    let body = r#"{"access_token":"t","expires_in":3600}"#;
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    return;
                }
                let chunk = vec![b' '; 1 << 20];
                if chunked {
                    let _ =
                        write!(stream, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n");
                } else {
                    let _ =
                        write!(stream, "HTTP/1.1 200 OK\r\ncontent-length: {body_len}\r\nconnection: close\r\n\r\n");
                }
                let mut sent = 0;
                while sent < body_len {
                    let n = chunk.len().min(body_len - sent);
                    let ok = if chunked {
                        write!(stream, "{n:x}\r\n").is_ok()
                            && stream.write_all(&chunk[..n]).is_ok()
                            && stream.write_all(b"\r\n").is_ok()
                    } else {
                        stream.write_all(&chunk[..n]).is_ok()
                    };
                    if !ok {
                        return; // the client hung up, as it should past the cap
                    }
                    sent += n;
                }
                if chunked {
                    let _ = stream.write_all(b"0\r\n\r\n");
                }
            });
        }
    });
    base
}

fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn get(base: &str, cap: usize) -> Result<cdf_client::session::ApiResponse, CdfError> {
    let mut s = Session::new(
        common::server_config(base, &format!("{base}/token")),
        Credentials { client_id: "c".into(), client_secret: "s".into() },
        cdf_client::new_http_client(None).unwrap(),
    );
    s.retry = common::fast_retries();
    s.max_response_bytes = cap;
    let rt = Runtime::new().unwrap();
    rt.block_on(s.request(reqwest::Method::GET, "assets", &[], None, Idempotency::Idempotent), &|| {})
}

#[test]
fn oversized_answers_are_a_clean_error_naming_the_endpoint() {
    let before = peak_rss_kb();
    // 1 GiB announced, and 1 GiB streamed without a length, against a 4 MiB cap.
    for chunked in [false, true] {
        let base = start(1 << 30, chunked);
        let e = get(&base, 4 << 20).expect_err("over the cap");
        let text = e.to_string();
        assert!(matches!(e, CdfError::Protocol { .. }), "{e:?}");
        assert!(text.contains("GET /api/v1/projects/demo/assets"), "{text}");
        assert!(text.contains("max_response_size"), "{text}");
    }
    let grown_mb = peak_rss_kb().saturating_sub(before) / 1024;
    eprintln!("peak RSS grew by {grown_mb} MB reading two 1 GiB answers with a 4 MiB cap");
    assert!(grown_mb < 64, "peak RSS grew by {grown_mb} MB");
    // Under the cap the answer arrives whole.
    let base = start(3 << 20, true);
    let r = get(&base, 4 << 20).expect("under the cap");
    assert_eq!(r.body.len(), 3 << 20);
}
