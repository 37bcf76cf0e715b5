//! Property tests of what reads caller input: size strings, model names, the whole request
//! preparation (V1–V21) and reference images (data URIs and their image headers). Nothing
//! may panic, and what is accepted keeps the upstream's limits.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;

use super::image_format::ImageFormat;
use super::reference::{self, MAX_REFERENCES, ReferenceLimits};
use super::validate::MAX_PROMPT_CHARS;
use super::{
    AspectRatio, GenerationSpec, MAX_TOTAL_IMAGES, Model, OutputFormat, Preset, Profile,
    ResponseFormat, Size, parse_dimensions, prepare,
};

const LIMIT: &ReferenceLimits = &ReferenceLimits::DOCUMENTED;

/// A 1x1 grey PNG whose header then claims `width` x `height` (only headers are read).
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, 1, 1);
        enc.set_color(png::ColorType::Grayscale);
        enc.write_header().unwrap().write_image_data(&[0]).unwrap();
    }
    out[16..20].copy_from_slice(&width.to_be_bytes());
    out[20..24].copy_from_slice(&height.to_be_bytes());
    out
}

fn size() -> impl Strategy<Value = Size> {
    prop_oneof![
        proptest::sample::select(Preset::ALL.to_vec()).prop_map(Size::Preset),
        (1u32..=99_999, 1u32..=99_999).prop_map(|(width, height)| Size::Pixels { width, height }),
    ]
}

fn model() -> impl Strategy<Value = Model> {
    prop_oneof![
        Just(Model::Lite50),
        Just(Model::V45),
        Just(Model::V40),
        ".{1,40}".prop_map(Model::Other),
    ]
}

/// Reference entries: plausible URLs, plausible and broken data URIs, anything at all.
fn reference_entry() -> impl Strategy<Value = String> {
    prop_oneof![
        "(https?|ftp)://[a-z0-9./?=%&-]{0,40}",
        (
            "[a-zA-Z/+]{0,12}",
            proptest::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(label, bytes)| format!("data:{label};base64,{}", STANDARD.encode(bytes))),
        "data:[ -~]{0,40}",
        any::<String>(),
    ]
}

fn prompt() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        // Past the 10,000-character cap, in multi-byte characters too.
        (".{1,4}", 2000usize..4000).prop_map(|(s, n)| s.repeat(n)),
    ]
}

prop_compose! {
    fn spec()(
        model in model(),
        prompt in prompt(),
        size in proptest::option::of(size()),
        aspect_ratio in proptest::option::of(proptest::sample::select(vec![
            AspectRatio::Square, AspectRatio::Wide16x9, AspectRatio::Tall9x16, AspectRatio::Ultrawide21x9,
        ])),
        images in proptest::collection::vec(reference_entry(), 0..17),
        max_images in proptest::option::of(prop_oneof![0u32..20, any::<u32>()]),
        b64 in any::<bool>(),
        output_format in proptest::option::of(proptest::sample::select(vec![OutputFormat::Png, OutputFormat::Jpeg])),
        watermark in any::<bool>(),
        seed in proptest::option::of(any::<i64>()),
        guidance_scale in proptest::option::of(prop_oneof![any::<f64>(), 0.0f64..12.0]),
    ) -> GenerationSpec {
        GenerationSpec {
            model, prompt, size, aspect_ratio, images, max_images,
            response_format: if b64 { ResponseFormat::B64Json } else { ResponseFormat::Url },
            output_format, watermark, seed, guidance_scale,
            background: None, prompt_mode: None, web_search: false,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_size_string_parses_or_is_refused_briefly_and_parsed_sizes_round_trip(s in any::<String>()) {
        match s.parse::<Size>() {
            Ok(size) => prop_assert_eq!(size.to_string().parse::<Size>(), Ok(size)),
            Err(e) => prop_assert!(e.to_string().len() < 500, "{}", e),
        }
        let _ = parse_dimensions(&s);
    }

    #[test]
    fn every_spelling_of_width_x_height_parses(
        w in 1u32..=99_999, h in 1u32..=99_999,
        sep in proptest::sample::select(vec!["x", "X", "×", "*", " x ", " × "]),
        pad in " {0,3}",
    ) {
        let s = format!("{pad}{w}{sep}{h}{pad}");
        prop_assert_eq!(s.parse::<Size>(), Ok(Size::Pixels { width: w, height: h }));
        prop_assert_eq!(parse_dimensions(&s), Some((w, h)));
    }

    #[test]
    fn model_names_never_panic(s in any::<String>()) {
        match Model::parse(&s) {
            Ok(m) => prop_assert!(!m.id().is_empty()),
            Err(_) => prop_assert!(s.trim().is_empty()),
        }
    }

    #[test]
    fn preparing_any_request_either_keeps_the_limits_or_names_the_parameter(spec in spec()) {
        let asked_images = spec.images.len();
        match prepare(spec, Size::Preset(Preset::TwoK), &Profile::default()) {
            Ok(p) => {
                let r = &p.request;
                prop_assert!(!r.prompt.trim().is_empty());
                prop_assert!(r.prompt.chars().count() <= MAX_PROMPT_CHARS);
                prop_assert!(r.image.len() <= MAX_REFERENCES && r.image.len() == asked_images);
                if let Some(o) = &r.sequential_image_generation_options {
                    prop_assert!((1..=MAX_TOTAL_IMAGES).contains(&(o.max_images as usize + r.image.len())));
                }
                if let Some(g) = r.guidance_scale {
                    prop_assert!((1.0..=10.0).contains(&g));
                }
                prop_assert!(serde_json::to_vec(r).is_ok());
            }
            Err(e) => {
                prop_assert!(!e.param.is_empty());
                // Messages quote at most a short preview of what was given.
                prop_assert!(e.to_string().chars().count() < 1000, "{}", e);
            }
        }
    }

    #[test]
    fn any_reference_is_sent_verbatim_as_a_url_or_rebuilt_as_a_sniffed_data_uri(raw in reference_entry()) {
        match reference::check(0, &raw, LIMIT) {
            Ok(r) if r.wire.starts_with("data:") => {
                let (head, payload) = r.wire.split_once(',').unwrap();
                let bytes = STANDARD.decode(payload).unwrap();
                let format = ImageFormat::sniff(&bytes).unwrap();
                prop_assert_eq!(head, format!("data:{};base64", format.mime()));
            }
            Ok(r) => prop_assert_eq!(r.wire, raw.trim()),
            Err(e) => prop_assert!(e.to_string().chars().count() < 1000, "{}", e),
        }
    }

    #[test]
    fn a_reference_header_is_accepted_exactly_when_its_dimensions_are_within_the_limits(
        w in prop_oneof![1u32..100, 1u32..20_000, any::<u32>()],
        h in prop_oneof![1u32..100, 1u32..20_000, any::<u32>()],
    ) {
        // PNG allows sides up to 2^31 - 1.
        let (w, h) = (w.min(i32::MAX as u32).max(1), h.min(i32::MAX as u32).max(1));
        let uri = format!("data:image/png;base64,{}", STANDARD.encode(png_claiming(w, h)));
        let (w64, h64) = (u64::from(w), u64::from(h));
        let within = w >= 15 && h >= 15 && w64 * h64 <= 36_000_000 && w64 <= 16 * h64 && h64 <= 16 * w64;
        prop_assert_eq!(reference::check(0, &uri, LIMIT).is_ok(), within, "{}x{}", w, h);
    }

    #[test]
    fn format_sniffing_and_labels_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..32), label in any::<String>()) {
        let _ = ImageFormat::sniff(&bytes);
        if let Some(f) = ImageFormat::from_subtype(&label) {
            prop_assert_eq!(ImageFormat::from_subtype(f.subtype()), Some(f));
        }
    }
}
