//! Load generator for the emulator: drives datapoint and RAW row inserts at CDF's maximum
//! batch sizes over several keep-alive connections and prints the sustained rates.
//!
//! `emulator-load --url http://127.0.0.1:4080 [--mode datapoints|raw|both] [--seconds 10]
//!  [--connections 4]`. Bodies are built once up front so the generator spends its CPU on
//! sending, not on JSON encoding. See bench/emulator_load.sh.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Args {
    url: String,
    mode: String,
    seconds: u64,
    connections: usize,
    project: String,
}

fn parse_args() -> Args {
    let mut a = Args {
        url: "http://127.0.0.1:4080".into(),
        mode: "both".into(),
        seconds: 10,
        connections: 4,
        project: "demo".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.url = val(),
            "--mode" => a.mode = val(),
            "--seconds" => a.seconds = val().parse().expect("--seconds takes an integer"),
            "--connections" => a.connections = val().parse().expect("--connections takes an integer"),
            "--project" => a.project = val(),
            "-h" | "--help" => {
                println!("emulator-load --url URL [--mode datapoints|raw|both] [--seconds N] [--connections N] [--project P]");
                std::process::exit(0);
            }
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

/// A keep-alive HTTP/1.1 connection that sends prepared requests and reads whole responses.
struct Conn {
    host: String,
    stream: BufReader<TcpStream>,
}

impl Conn {
    async fn open(host: &str) -> Conn {
        let s = TcpStream::connect(host).await.expect("emulator reachable");
        s.set_nodelay(true).ok();
        Conn { host: host.to_string(), stream: BufReader::new(s) }
    }

    async fn request(&mut self, method: &str, path: &str, headers: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{headers}Content-Length: {}\r\n\r\n",
            self.host,
            body.len()
        );
        let w = self.stream.get_mut();
        w.write_all(head.as_bytes()).await.expect("write head");
        w.write_all(body).await.expect("write body");
        let mut line = String::new();
        self.stream.read_line(&mut line).await.expect("status line");
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {line:?}"));
        let mut len = 0usize;
        loop {
            line.clear();
            self.stream.read_line(&mut line).await.expect("header line");
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut resp = vec![0u8; len];
        self.stream.read_exact(&mut resp).await.expect("body");
        (status, resp)
    }
}

fn json_headers(token: &str) -> String {
    format!("Authorization: Bearer {token}\r\nContent-Type: application/json\r\n")
}

async fn token(host: &str) -> String {
    let mut c = Conn::open(host).await;
    let body = b"grant_type=client_credentials&client_id=demo-client&client_secret=demo-secret&scope=x";
    let (status, resp) =
        c.request("POST", "/oauth2/token", "Content-Type: application/x-www-form-urlencoded\r\n", body).await;
    assert_eq!(status, 200, "token: {}", String::from_utf8_lossy(&resp));
    let v: serde_json::Value = serde_json::from_slice(&resp).expect("token JSON");
    v["access_token"].as_str().expect("access_token").to_string()
}

/// 10 series × 10,000 points = 100,000 points per request (the CDF maximum).
fn datapoint_bodies(n_bodies: usize, series: usize, per_series: usize) -> Vec<Vec<u8>> {
    let base: i64 = 1_600_000_000_000;
    (0..n_bodies)
        .map(|b| {
            let mut s = String::with_capacity(series * per_series * 48);
            s.push_str("{\"items\":[");
            for ts in 0..series {
                if ts > 0 {
                    s.push(',');
                }
                let _ = write!(s, "{{\"externalId\":\"load-ts-{ts}\",\"datapoints\":[");
                for p in 0..per_series {
                    if p > 0 {
                        s.push(',');
                    }
                    let t = base + ((b * per_series + p) as i64) * 1000;
                    let _ = write!(s, "{{\"timestamp\":{t},\"value\":{}.{}}}", (p * 7) % 1000, p % 97);
                }
                s.push_str("]}");
            }
            s.push_str("]}");
            s.into_bytes()
        })
        .collect()
}

/// 10,000 rows per request (the CDF maximum), five columns each. Bodies b and b + n/2 share
/// keys but differ in content, so cycling through them always replaces rows.
fn raw_bodies(n_bodies: usize, rows: usize) -> Vec<Vec<u8>> {
    (0..n_bodies)
        .map(|b| {
            let mut s = String::with_capacity(rows * 120);
            s.push_str("{\"items\":[");
            for r in 0..rows {
                if r > 0 {
                    s.push(',');
                }
                let _ = write!(
                    s,
                    "{{\"key\":\"row-{:04}-{r:06}\",\"columns\":{{\"name\":\"pump {r}\",\"value\":{r}.5,\"ok\":true,\"site\":\"oslo\",\"n\":{b}}}}}",
                    b % (n_bodies / 2).max(1)
                );
            }
            s.push_str("]}");
            s.into_bytes()
        })
        .collect()
}

async fn drive(
    host: &str,
    path: &str,
    headers: &str,
    bodies: Arc<Vec<Vec<u8>>>,
    per_request: u64,
    args: &Args,
    expect: u16,
) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let throttled = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let (host, path, headers) = (host.to_string(), path.to_string(), headers.to_string());
        let (bodies, done, next, throttled) = (bodies.clone(), done.clone(), next.clone(), throttled.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::open(&host).await;
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize % bodies.len();
                let (status, resp) = c.request("POST", &path, &headers, &bodies[i]).await;
                if status == 429 {
                    // The emulator's rate limits (--profile cdf): back off briefly, as a client should.
                    throttled.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                assert_eq!(status, expect, "{}", String::from_utf8_lossy(&resp));
                done.fetch_add(per_request, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.expect("load task");
    }
    let n = throttled.load(Ordering::Relaxed);
    if n > 0 {
        println!("({n} requests answered 429 and were retried after 100 ms)");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = parse_args();
    let host = args.url.trim_start_matches("http://").trim_end_matches('/').to_string();
    assert!(
        host.starts_with("127.0.0.1:") || host.starts_with("localhost:"),
        "the load generator only drives loopback emulators"
    );
    let token = token(&host).await;
    let headers = json_headers(&token);
    let api = format!("/api/v1/projects/{}", args.project);

    if args.mode == "datapoints" || args.mode == "both" {
        let mut c = Conn::open(&host).await;
        let items: Vec<String> =
            (0..10).map(|i| format!("{{\"externalId\":\"load-ts-{i}\",\"name\":\"load {i}\"}}")).collect();
        let body = format!("{{\"items\":[{}]}}", items.join(","));
        let (status, resp) = c.request("POST", &format!("{api}/timeseries"), &headers, body.as_bytes()).await;
        assert!(status == 201 || status == 409, "create series: {}", String::from_utf8_lossy(&resp));
        let bodies = Arc::new(datapoint_bodies(16, 10, 10_000));
        let mb = bodies.iter().map(|b| b.len()).sum::<usize>() as f64 / bodies.len() as f64 / 1e6;
        let rate = drive(&host, &format!("{api}/timeseries/data"), &headers, bodies, 100_000, &args, 200).await;
        println!(
            "datapoints: {rate:.0} points/s ({} connections, 100000 points and {mb:.1} MB per request)",
            args.connections
        );
    }
    if args.mode == "raw" || args.mode == "both" {
        let bodies = Arc::new(raw_bodies(32, 10_000));
        let mb = bodies.iter().map(|b| b.len()).sum::<usize>() as f64 / bodies.len() as f64 / 1e6;
        let rate = drive(
            &host,
            &format!("{api}/raw/dbs/load/tables/rows/rows?ensureParent=true"),
            &headers,
            bodies,
            10_000,
            &args,
            201,
        )
        .await;
        println!(
            "raw rows: {rate:.0} rows/s ({} connections, 10000 rows and {mb:.1} MB per request)",
            args.connections
        );
    }
}
