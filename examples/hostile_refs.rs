//! Writes the hostile reference images of issue 11 item 9 to a folder, for
//! `bench/hostile_refs.py`: each is small on disk and declares far more work than it carries.
//!
//! `cargo run --example hostile_refs -- DIR`

#![expect(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a fixture writer: failing loudly on a bug in it is the point"
)]

use std::io::Write;
use std::path::Path;

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/hostile-refs".to_owned());
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir)?;
    // The TIFF bomb is written by bench/hostile_refs.py with Python's zlib.
    let files: [(&str, Vec<u8>); 4] = [
        ("gif-11000-screen.gif", gif_screen(11000)),
        ("png-bomb-12000.png", png_bomb(12000)),
        ("jpeg-claims-16000.jpg", jpeg_claiming(16000)),
        ("jpeg-2000-scans.jpg", jpeg_with_scans(2000)),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.join(name), &bytes)?;
        println!("{name}\t{} bytes", bytes.len());
    }
    Ok(())
}

/// A 1x1 image on a `side` x `side` logical screen: 43 bytes.
fn gif_screen(side: u16) -> Vec<u8> {
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&side.to_le_bytes());
    gif.extend_from_slice(&side.to_le_bytes());
    gif.extend_from_slice(&[0x80, 0, 0, 0, 0, 0, 255, 255, 255]);
    gif.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0, 0x3B]);
    gif
}

/// `side` x `side` grey zeros, deflated.
fn png_bomb(side: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    let mut writer = encoder.write_header().expect("png header");
    let mut stream = writer.stream_writer().expect("png stream");
    let row = vec![0u8; side as usize];
    for _ in 0..side {
        stream.write_all(&row).expect("png row");
    }
    stream.finish().expect("png end");
    drop(writer);
    out
}

fn jpeg(width: u16, height: u16, progressive: bool) -> Vec<u8> {
    let mut state = 0x2545_F491_u32;
    let rgb: Vec<u8> = (0..usize::from(width) * usize::from(height) * 3)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            ((i % 251) as u32 + (state & 31)) as u8
        })
        .collect();
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 90);
    encoder.set_progressive(progressive);
    encoder
        .encode(&rgb, width, height, jpeg_encoder::ColorType::Rgb)
        .expect("jpeg");
    out
}

/// A 16x16 baseline JPEG whose frame header claims `side` x `side`: libjpeg fills the missing
/// data with grey, so a couple of hundred bytes cost a full decode.
fn jpeg_claiming(side: u16) -> Vec<u8> {
    let mut bytes = jpeg(16, 16, false);
    let sof = bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline frame header");
    bytes[sof + 5..sof + 7].copy_from_slice(&side.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&side.to_be_bytes());
    bytes
}

/// A 512x512 progressive JPEG whose smallest scan is repeated until it has `scans`.
fn jpeg_with_scans(scans: usize) -> Vec<u8> {
    let mut bytes = jpeg(512, 512, true);
    let end = bytes.len() - 2;
    let starts: Vec<usize> = (0..end)
        .filter(|&i| bytes[i] == 0xFF && bytes[i + 1] == 0xDA)
        .collect();
    let (from, to) = starts
        .iter()
        .zip(starts.iter().skip(1).chain([&end]))
        .map(|(&a, &b)| (a, b))
        .min_by_key(|(a, b)| b - a)
        .expect("a scan");
    let scan = bytes[from..to].to_vec();
    let have = starts.len();
    bytes.truncate(end);
    for _ in have..scans {
        bytes.extend_from_slice(&scan);
    }
    bytes.extend_from_slice(&[0xFF, 0xD9]);
    bytes
}
