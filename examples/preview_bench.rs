//! Times the imaging pipeline on photo-like JPEGs built in memory.
//!
//! Run on one core, as the targets are stated: `taskset -c 0 cargo run --release --example preview_bench`
//!
//! `preview_bench --compare DIR` instead writes two inputs (4096x4096 and 2048x2048) to DIR,
//! times `preview(…, 768, 80)` of each file (read from disk on every run, as a peer would) and
//! prints one JSON line; `bench/run.sh` times the peer's thumbnailer on the same files.

use std::time::{Duration, Instant};

use seedream_mcp::imaging::{self, ReferenceLimits};

const WARM_UP: usize = 3;
const RUNS: usize = 30;

/// Pixel-noise amplitudes of the inputs: light, medium and heavy grain. Decoding cost follows
/// the compressed size, so each preview is timed at all three.
const NOISE: [u32; 3] = [12, 20, 32];
/// The grain of the inputs for the budget and reference figures.
const MEDIUM: u32 = 20;

fn main() {
    let mut args = std::env::args().skip(1);
    if let (Some(flag), Some(dir)) = (args.next(), args.next())
        && flag == "--compare"
    {
        compare(std::path::Path::new(&dir));
        return;
    }
    for side in [4096, 2048] {
        for noise in NOISE {
            let jpeg = photo_jpeg(side, side, noise);
            let mut out = None;
            let times = time(RUNS, || out = imaging::preview(&jpeg, 1024, 80).ok());
            let size = out.map(|p| format!("-> {}x{}, {} bytes", p.width, p.height, p.jpeg.len()));
            let input = format!("{side}x{side} JPEG of {:.2} MB", mb(jpeg.len()));
            report(
                &format!("preview(1024, q80) of {input}"),
                &times,
                &size.unwrap_or_default(),
            );
        }
    }

    let jpeg_4k = photo_jpeg(4096, 4096, MEDIUM);
    let jpeg_2k = photo_jpeg(2048, 2048, MEDIUM);
    for (count, label, bytes) in [
        (4, "4K", &jpeg_4k),
        (15, "4K", &jpeg_4k),
        (4, "2K", &jpeg_2k),
        (15, "2K", &jpeg_2k),
    ] {
        let images = vec![bytes.as_slice(); count];
        let mut out = None;
        let times = time(5, || {
            out = imaging::previews_within_budget(&images, 1568, BUDGET)
        });
        let detail = match out {
            Some(previews) => {
                let total: usize = previews.iter().map(|p| p.jpeg.len().div_ceil(3) * 4).sum();
                let edge = previews.first().map(|p| p.width).unwrap_or(0);
                format!("{count} previews of {edge} px, {total} base64 bytes")
            }
            None => "did not fit".to_owned(),
        };
        let what = format!(
            "previews_within_budget(1568, 700 KiB) of {count} x {label} ({:.2} MB each)",
            mb(bytes.len())
        );
        report(&what, &times, &detail);
    }

    let jpeg_48mp = photo_jpeg(8000, 6000, MEDIUM);
    let mut out = None;
    let limits = ReferenceLimits::DOCUMENTED;
    let times = time(5, || out = imaging::fit_reference(&jpeg_48mp, &limits).ok());
    let detail = out.map(|f| format!("{} bytes; {}", f.bytes.len(), f.note.unwrap_or_default()));
    let what = format!(
        "fit_reference of 8000x6000 JPEG of {:.2} MB",
        mb(jpeg_48mp.len())
    );
    report(&what, &times, &detail.unwrap_or_default());
}

/// The side-by-side mode: the peer (seedream-image-mcp) makes 768 px previews at quality 80.
fn compare(dir: &std::path::Path) {
    let mut rows = Vec::new();
    for side in [4096u32, 2048] {
        let path = dir.join(format!("photo-{side}.jpg"));
        if let Err(e) = std::fs::write(&path, photo_jpeg(side, side, MEDIUM)) {
            eprintln!("cannot write {}: {e}", path.display());
            std::process::exit(1)
        }
        let mut out = 0usize;
        let times = time(RUNS, || {
            out = std::fs::read(&path)
                .ok()
                .and_then(|bytes| imaging::preview(&bytes, 768, 80).ok())
                .map_or(0, |p| p.jpeg.len());
        });
        let median = times.get(times.len() / 2).copied().unwrap_or_default();
        rows.push(format!(
            "{{\"file\":{:?},\"median_ms\":{:.2},\"runs\":{},\"out_bytes\":{out}}}",
            path.display().to_string(),
            median.as_secs_f64() * 1e3,
            times.len()
        ));
    }
    println!("[{}]", rows.join(","));
}

/// What a tool result may spend on images under Claude Desktop's 1 MiB cap.
const BUDGET: usize = 700 * 1024;

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

fn time(runs: usize, mut f: impl FnMut()) -> Vec<Duration> {
    for _ in 0..WARM_UP.min(runs) {
        f();
    }
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times
}

fn report(what: &str, sorted: &[Duration], detail: &str) {
    let at = |q: f64| {
        sorted
            .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
            .copied()
    };
    let ms = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
    println!(
        "{what}: median {:.1} ms, p95 {:.1} ms over {} runs ({detail})",
        ms(at(0.5)),
        ms(at(0.95)),
        sorted.len()
    );
}

/// Colour gradients plus per-pixel grain of `noise` levels, at quality 90: a 4096x4096 image
/// comes out at 2-6 MB, like a detailed photo.
fn photo_jpeg(width: u32, height: u32, noise: u32) -> Vec<u8> {
    let mut state = 0x9E37_79B9_u32 ^ width.rotate_left(16) ^ height;
    let (w, h) = (width as i32, height as i32);
    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..h {
        let gy = y * 255 / h;
        for x in 0..w {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let n = (state % noise) as i32 - (noise / 2) as i32;
            let gx = x * 255 / w;
            rgb.push((gx + n).clamp(0, 255) as u8);
            rgb.push((gy + n / 2).clamp(0, 255) as u8);
            rgb.push((255 - (gx + gy) / 2 + n).clamp(0, 255) as u8);
        }
    }
    let mut out = Vec::new();
    let encoder = jpeg_encoder::Encoder::new(&mut out, 90);
    match encoder.encode(
        &rgb,
        width as u16,
        height as u16,
        jpeg_encoder::ColorType::Rgb,
    ) {
        Ok(()) => out,
        Err(e) => {
            eprintln!("cannot build the test image: {e}");
            std::process::exit(1)
        }
    }
}
