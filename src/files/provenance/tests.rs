use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::imaging::test_images::{encode_as, photo_jpeg, photo_rgba, with_exif_orientation};

fn sample() -> Provenance {
    let mut p = Provenance::new(
        "a \"red\" fox & <friends>\nsecond line, über",
        "doubao-seedream-4-5-251128",
        UNIX_EPOCH + Duration::from_secs(1_764_531_900),
    );
    p.size = Some("2048x2048".to_owned());
    p.seed = Some(-42);
    p.request_id = Some("req-123".to_owned());
    p.job = Some("job-abc".to_owned());
    p.index = Some(2);
    p
}

fn png() -> Vec<u8> {
    encode_as(&photo_rgba(32, 24), image::ImageFormat::Png)
}

fn stamped(bytes: &[u8], format: ImageFormat) -> Vec<u8> {
    stamp(bytes, format, &sample()).unwrap().to_vec(bytes)
}

#[test]
fn provenance_written_into_a_png_reads_back_whole() {
    let out = stamped(&png(), ImageFormat::Png);
    let back = read(&out).unwrap();
    assert_eq!(back, sample());
    assert_eq!(back.created, "2025-11-30T19:45:00Z");
    assert!(back.ai_generated);
}

#[test]
fn provenance_written_into_a_jpeg_reads_back_whole() {
    let out = stamped(&photo_jpeg(40, 30), ImageFormat::Jpeg);
    assert_eq!(read(&out).unwrap(), sample());
}

#[test]
fn the_pixels_are_untouched_by_the_metadata() {
    let source = png();
    let out = stamped(&source, ImageFormat::Png);
    let (a, b) = (
        image::load_from_memory(&source).unwrap(),
        image::load_from_memory(&out).unwrap(),
    );
    assert_eq!(a.as_bytes(), b.as_bytes());
    let jpeg = photo_jpeg(40, 30);
    let out = stamped(&jpeg, ImageFormat::Jpeg);
    let decode = |b: &[u8]| jpeg_decoder::Decoder::new(b).decode().unwrap();
    assert_eq!(decode(&jpeg), decode(&out));
    // The scan data is the original's, byte for byte.
    assert!(out.ends_with(&jpeg[jpeg.len() - 200..]));
}

#[test]
fn png_text_chunks_carry_the_standard_keywords_with_valid_crcs() {
    let out = stamped(&png(), ImageFormat::Png);
    let decoder = ::png::Decoder::new(std::io::Cursor::new(&out));
    let reader = decoder.read_info().unwrap();
    let texts: Vec<(String, String)> = reader
        .info()
        .utf8_text
        .iter()
        .map(|t| (t.keyword.clone(), t.get_text().unwrap()))
        .collect();
    let get = |k: &str| {
        texts
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(get("Description").unwrap(), sample().prompt);
    assert!(get("Software").unwrap().starts_with("seedream-mcp "));
    assert!(
        get("parameters")
            .unwrap()
            .contains("Model: doubao-seedream-4-5-251128, Size: 2048x2048, Seed: -42")
    );
    assert!(
        get("XML:com.adobe.xmp")
            .unwrap()
            .contains("trainedAlgorithmicMedia")
    );
    assert!(get("Comment").unwrap().starts_with("AI-generated image"));
}

#[test]
fn stamping_twice_replaces_the_metadata_instead_of_duplicating_it() {
    let once = stamped(&png(), ImageFormat::Png);
    let twice = stamped(&once, ImageFormat::Png);
    assert_eq!(once, twice);
    let jpeg = stamped(&photo_jpeg(16, 16), ImageFormat::Jpeg);
    let again = stamped(&jpeg, ImageFormat::Jpeg);
    assert_eq!(
        again
            .windows(XMP_MARK.len())
            .filter(|w| *w == XMP_MARK)
            .count(),
        1
    );
}

const XMP_MARK: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";

#[test]
fn jpeg_metadata_goes_after_the_exif_segment_that_must_stay_first() {
    let jpeg = with_exif_orientation(&photo_jpeg(16, 16), 6);
    let out = stamped(&jpeg, ImageFormat::Jpeg);
    assert_eq!(&out[6..12], b"Exif\0\0");
    assert!(read(&out).is_some());
}

#[test]
fn a_c2pa_signed_file_is_left_alone() {
    let jpeg = photo_jpeg(16, 16);
    let mut signed = vec![0xFF, 0xD8, 0xFF, 0xEB, 0, 22];
    signed.extend_from_slice(b"JP\0\x01\0\0\0\x01\0\0\0\x10jumbc2pa");
    signed.extend_from_slice(&jpeg[2..]);
    assert_eq!(
        stamp(&signed, ImageFormat::Jpeg, &sample()),
        Err(StampError::SignedManifest)
    );
}

#[test]
fn odd_input_is_refused_without_panicking() {
    let png = png();
    let jpeg = photo_jpeg(16, 16);
    for cut in [0, 1, 8, 12, 20, 33, 40] {
        let _ = stamp(png.get(..cut).unwrap_or(&png), ImageFormat::Png, &sample());
        let _ = stamp(
            jpeg.get(..cut).unwrap_or(&jpeg),
            ImageFormat::Jpeg,
            &sample(),
        );
        assert!(read(png.get(..cut).unwrap_or(&png)).is_none());
    }
    let mut huge = png.clone();
    huge[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(stamp(&huge, ImageFormat::Png, &sample()).is_err());
    assert_eq!(
        stamp(b"RIFF\0\0\0\0WEBPVP8 ", ImageFormat::Webp, &sample()),
        Err(StampError::Unsupported("webp"))
    );
}

#[test]
fn a_long_prompt_is_cut_so_the_jpeg_segment_still_fits() {
    let mut p = sample();
    p.prompt = "\"".repeat(100_000);
    let p = Provenance::new(&p.prompt, &p.model, UNIX_EPOCH);
    let jpeg = photo_jpeg(16, 16);
    let out = stamp(&jpeg, ImageFormat::Jpeg, &p).unwrap().to_vec(&jpeg);
    assert_eq!(read(&out).unwrap().prompt.len(), MAX_PROMPT_BYTES);
}

#[test]
fn a_file_is_read_from_its_head_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.png");
    std::fs::write(&path, stamped(&png(), ImageFormat::Png)).unwrap();
    assert_eq!(read_file(&path).unwrap().unwrap().model, sample().model);
    std::fs::write(&path, png()).unwrap();
    assert_eq!(read_file(&path).unwrap(), None);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    #[test]
    fn any_prompt_round_trips_through_the_xmp(prompt in "\\PC{0,80}") {
        let p = Provenance::new(&prompt, "m", UNIX_EPOCH);
        let back = xmp::parse(&xmp::write(&p)).unwrap();
        proptest::prop_assert_eq!(back.prompt, prompt);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_readers_or_writers(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
        let mut png = SIGNATURE_PNG.to_vec();
        png.extend_from_slice(&bytes);
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend_from_slice(&bytes);
        for b in [&png, &jpeg, &bytes] {
            let _ = read(b);
            let _ = stamp(b, ImageFormat::Png, &sample());
            let _ = stamp(b, ImageFormat::Jpeg, &sample());
        }
    }
}

const SIGNATURE_PNG: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
