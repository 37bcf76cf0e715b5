//! A small, bounded load generator for the benchmark (`bench/run.sh`): POSTs one JSON-RPC
//! request body to an MCP endpoint from `--concurrency` workers until `--requests` have been
//! sent or `--max-seconds` have passed, and prints one JSON line of figures.
//!
//! It is written in Rust so that 200 concurrent requests on two cores measure the server, not
//! the client: each request costs the generator a few microseconds.
//!
//! ```sh
//! cargo run --release --example http_load -- --url http://127.0.0.1:8787/mcp \
//!     --concurrency 200 --requests 200 --max-seconds 30 \
//!     --header 'Mcp-Method: tools/call' --body '{"jsonrpc":"2.0","id":{i},...}'
//! ```
//! `{i}` in the body is replaced by the request's index. A request counts as an error unless
//! it answers 200 with a JSON-RPC `result` that is not `"isError": true`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::sync::Mutex;

struct Args {
    url: String,
    concurrency: usize,
    requests: usize,
    max_seconds: f64,
    headers: Vec<(String, String)>,
    body: String,
    /// Seconds between two samples of the per-interval throughput and latency (0 = none).
    interval: f64,
    /// A file to write every successful answer to, one per line (task ids for a second pass).
    dump: Option<String>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        url: String::new(),
        concurrency: 1,
        requests: 1,
        max_seconds: 60.0,
        headers: Vec::new(),
        body: String::new(),
        interval: 0.0,
        dump: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => args.url = value,
            "--concurrency" => args.concurrency = value.parse()?,
            "--requests" => args.requests = value.parse()?,
            "--max-seconds" => args.max_seconds = value.parse()?,
            "--interval" => args.interval = value.parse()?,
            "--dump" => args.dump = Some(value),
            "--body" => args.body = value,
            "--header" => {
                let (name, v) = value
                    .split_once(':')
                    .with_context(|| format!("header `{value}` is not `Name: value`"))?;
                args.headers
                    .push((name.trim().to_owned(), v.trim().to_owned()));
            }
            _ => bail!("unknown flag {flag}"),
        }
    }
    if args.url.is_empty() || args.body.is_empty() {
        bail!("--url and --body are required");
    }
    // Bounded by design: loopback only and at most a million requests or an hour.
    if args.requests > 1_000_000 || !(0.0..=3600.0).contains(&args.max_seconds) {
        bail!("--requests must be <= 1000000 and --max-seconds <= 3600");
    }
    Ok(args)
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    errors: usize,
    first_error: Option<String>,
    response_bytes: usize,
    /// (seconds since start, latency in µs) of every finished request, for the intervals.
    finished: Vec<(f64, u64)>,
    answers: Vec<String>,
}

fn is_success(status: reqwest::StatusCode, body: &str) -> bool {
    status.is_success()
        && body.contains("\"result\"")
        && !body.contains("\"isError\":true")
        && !body.contains("\"isError\": true")
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted.get(rank).copied().unwrap_or_default() as f64 / 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let client = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs_f64(args.max_seconds + 30.0))
        .build()?;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("content-type", "application/json".parse()?);
    headers.insert("accept", "application/json, text/event-stream".parse()?);
    for (name, value) in &args.headers {
        headers.insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes())?,
            value.parse()?,
        );
    }
    let next = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let args = Arc::new(args);
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.max_seconds);
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (client, headers, next, tally, args) = (
                client.clone(),
                headers.clone(),
                Arc::clone(&next),
                Arc::clone(&tally),
                Arc::clone(&args),
            );
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= args.requests || Instant::now() >= deadline {
                        break;
                    }
                    let body = args.body.replace("{i}", &(i + 1).to_string());
                    let sent = Instant::now();
                    let outcome = match client
                        .post(&args.url)
                        .headers(headers.clone())
                        .body(body)
                        .send()
                        .await
                    {
                        Ok(response) => {
                            let status = response.status();
                            match response.text().await {
                                Ok(text) if is_success(status, &text) => Ok(text),
                                Ok(text) => Err(format!(
                                    "{status}: {}",
                                    text.chars().take(300).collect::<String>()
                                )),
                                Err(e) => Err(e.to_string()),
                            }
                        }
                        Err(e) => Err(e.to_string()),
                    };
                    let latency = sent.elapsed().as_micros() as u64;
                    let at = started.elapsed().as_secs_f64();
                    let mut t = tally.lock().await;
                    t.finished.push((at, latency));
                    match outcome {
                        Ok(text) => {
                            t.latencies_us.push(latency);
                            t.response_bytes += text.len();
                            if args.dump.is_some() {
                                // One line per answer: an SSE answer's own newlines are folded.
                                t.answers.push(text.replace(['\r', '\n'], " "));
                            }
                        }
                        Err(e) => {
                            t.errors += 1;
                            t.first_error.get_or_insert(e);
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await?;
    }
    let wall = started.elapsed().as_secs_f64();
    let mut t = tally.lock().await;
    t.latencies_us.sort_unstable();
    let ok = t.latencies_us.len();
    let mut intervals = Vec::new();
    if args.interval > 0.0 {
        let buckets = (wall / args.interval).ceil() as usize;
        for b in 0..buckets {
            let (lo, hi) = (b as f64 * args.interval, (b + 1) as f64 * args.interval);
            let mut lat: Vec<u64> = t
                .finished
                .iter()
                .filter(|(at, _)| *at >= lo && *at < hi)
                .map(|(_, l)| *l)
                .collect();
            lat.sort_unstable();
            intervals.push(serde_json::json!({
                "t": hi, "done": lat.len(), "p50_ms": percentile(&lat, 0.5), "p99_ms": percentile(&lat, 0.99)
            }));
        }
    }
    let report = serde_json::json!({
        "requests": ok + t.errors,
        "ok": ok,
        "errors": t.errors,
        "first_error": t.first_error,
        "wall_s": wall,
        "rate_per_s": (ok + t.errors) as f64 / wall,
        "p50_ms": percentile(&t.latencies_us, 0.5),
        "p99_ms": percentile(&t.latencies_us, 0.99),
        "max_ms": percentile(&t.latencies_us, 1.0),
        "response_bytes": t.response_bytes,
        "intervals": intervals,
    });
    if let Some(path) = &args.dump {
        std::fs::write(path, t.answers.join("\n"))?;
    }
    println!("{report}");
    Ok(())
}
