//! Times the imaging pipeline on photo-like JPEGs built in memory.
//!
//! Run on one core, as the targets are stated: `taskset -c 0 cargo run --release --example preview_bench`

use std::time::{Duration, Instant};

use seedream_mcp::imaging::{self, ReferenceLimits};

const WARM_UP: usize = 3;
const RUNS: usize = 30;

fn main() {
    let jpeg_4k = photo_jpeg(4096, 4096);
    let jpeg_2k = photo_jpeg(2048, 2048);
    println!(
        "inputs: 4096x4096 JPEG {} bytes, 2048x2048 JPEG {} bytes",
        jpeg_4k.len(),
        jpeg_2k.len()
    );

    for (label, bytes) in [("4096x4096", &jpeg_4k), ("2048x2048", &jpeg_2k)] {
        let mut out = None;
        let times = time(RUNS, || out = imaging::preview(bytes, 1024, 80).ok());
        let size = out.map(|p| format!("{}x{}, {} bytes", p.width, p.height, p.jpeg.len()));
        report(
            &format!("preview {label} -> 1024 q80"),
            &times,
            &size.unwrap_or_default(),
        );
    }

    for (count, label, bytes) in [
        (4, "4K", &jpeg_4k),
        (15, "4K", &jpeg_4k),
        (15, "2K", &jpeg_2k),
    ] {
        let images = vec![bytes.as_slice(); count];
        let mut out = None;
        let times = time(5, || {
            out = imaging::previews_within_budget(&images, 1568, 700 * 1024)
        });
        let detail = match out {
            Some(previews) => {
                let total: usize = previews.iter().map(|p| p.jpeg.len().div_ceil(3) * 4).sum();
                let first = previews.first().map(|p| p.width).unwrap_or(0);
                format!("{count} previews of {first}px, {total} base64 bytes")
            }
            None => "did not fit".to_owned(),
        };
        report(
            &format!("previews_within_budget {count} x {label}, 700 KiB"),
            &times,
            &detail,
        );
    }

    let jpeg_48mp = photo_jpeg(8000, 6000);
    let mut out = None;
    let times = time(5, || {
        out = imaging::fit_reference(&jpeg_48mp, &ReferenceLimits::SEEDREAM).ok()
    });
    let detail = out.and_then(|f| f.note).unwrap_or_default();
    report(
        &format!("fit_reference 8000x6000 ({} bytes)", jpeg_48mp.len()),
        &times,
        &detail,
    );
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

/// Gradients plus pixel noise at quality 90: 4096x4096 comes out near 5.5 MB, like a photo.
fn photo_jpeg(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x9E37_79B9_u32 ^ width.rotate_left(16) ^ height;
    let (w, h) = (width as i32, height as i32);
    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..h {
        let gy = y * 255 / h;
        for x in 0..w {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let n = (state & 31) as i32 - 16;
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
