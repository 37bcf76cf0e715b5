//! The model rules as `prepare` applies them (checklist V1–V21).

use super::*;

fn spec(model: Model) -> GenerationSpec {
    GenerationSpec {
        model,
        prompt: "a red fox".into(),
        size: None,
        aspect_ratio: None,
        images: vec![],
        max_images: None,
        response_format: ResponseFormat::Url,
        output_format: None,
        watermark: false,
        seed: None,
        guidance_scale: None,
        background: None,
        prompt_mode: None,
        web_search: false,
    }
}

fn with_size(model: Model, size: &str) -> Result<Prepared, ValidationError> {
    let mut s = spec(model);
    s.size = Some(size.parse().unwrap());
    prepare(s, Size::Preset(Preset::TwoK), &Profile::default())
}

#[test]
fn documented_sizes_are_accepted_per_model() {
    for (model, size) in [
        (Model::Lite50, "3750x1250"),
        (Model::V45, "3750x1250"),
        (Model::Lite50, "3K"),
        (Model::Lite50, "4K"),
        (Model::V45, "4K"),
        (Model::V40, "1K"),
        (Model::V40, "1280x720"),
        (Model::V45, "2560x1440"),
    ] {
        assert!(with_size(model.clone(), size).is_ok(), "{model} {size}");
    }
}

#[test]
fn documented_invalid_sizes_are_refused_with_the_valid_range() {
    for (model, size, expected) in [
        (Model::Lite50, "1500x1500", "3,686,400 to 16,777,216"),
        (Model::V45, "1500x1500", "3,686,400"),
        (Model::V40, "800x800", "921,600"),
        (Model::V45, "1K", "2K or 4K"),
        (Model::V40, "3K", "1K, 2K or 4K"),
        (Model::V45, "9000x560", "too narrow"),
        (Model::V45, "5000x5000", "16,777,216"),
    ] {
        let e = with_size(model.clone(), size).unwrap_err();
        assert_eq!(e.param, "size");
        assert!(e.message.contains(expected), "{model} {size}: {e}");
        assert!(e.message.contains("e.g. 2048x2048"), "{e}");
    }
}

#[test]
fn lite_without_4k_refuses_4k_and_more_than_ten_megapixels() {
    let profile = Profile {
        lite_4k: false,
        ..Profile::default()
    };
    let mut s = spec(Model::Lite50);
    s.size = Some(Size::Preset(Preset::FourK));
    assert!(prepare(s.clone(), Size::Preset(Preset::TwoK), &profile).is_err());
    s.size = Some("4096x4096".parse().unwrap());
    assert!(
        prepare(s, Size::Preset(Preset::TwoK), &profile)
            .unwrap_err()
            .message
            .contains("10,404,496")
    );
}

#[test]
fn an_aspect_ratio_becomes_the_recommended_pixels_of_the_preset() {
    let mut s = spec(Model::V45);
    s.aspect_ratio = Some(AspectRatio::Wide16x9);
    let p = prepare(s.clone(), Size::Preset(Preset::TwoK), &Profile::default()).unwrap();
    assert_eq!(
        p.request.size,
        Some(Size::Pixels {
            width: 2848,
            height: 1600
        })
    );
    s.size = Some(Size::Preset(Preset::FourK));
    let p = prepare(s, Size::Preset(Preset::TwoK), &Profile::default()).unwrap();
    assert_eq!(
        p.request.size,
        Some(Size::Pixels {
            width: 5504,
            height: 3040
        })
    );
}

#[test]
fn pixels_and_an_aspect_ratio_together_are_refused() {
    let mut s = spec(Model::V45);
    s.size = Some("2048x2048".parse().unwrap());
    s.aspect_ratio = Some(AspectRatio::Square);
    assert_eq!(
        prepare(s, Size::Preset(Preset::TwoK), &Profile::default())
            .unwrap_err()
            .param,
        "aspect_ratio"
    );
}

#[test]
fn empty_and_huge_prompts_are_refused() {
    let mut s = spec(Model::V45);
    s.prompt = "   ".into();
    assert_eq!(
        prepare(s.clone(), Size::Preset(Preset::TwoK), &Profile::default())
            .unwrap_err()
            .param,
        "prompt"
    );
    s.prompt = "x".repeat(MAX_PROMPT_CHARS + 1);
    assert!(
        prepare(s, Size::Preset(Preset::TwoK), &Profile::default())
            .unwrap_err()
            .message
            .contains("10000")
    );
}

#[test]
fn unsupported_fields_are_dropped_with_a_note() {
    let mut s = spec(Model::V45);
    s.output_format = Some(OutputFormat::Png);
    s.seed = Some(42);
    s.guidance_scale = Some(3.0);
    let p = prepare(s, Size::Preset(Preset::TwoK), &Profile::default()).unwrap();
    assert_eq!(
        (
            p.request.output_format,
            p.request.seed,
            p.request.guidance_scale
        ),
        (None, None, None)
    );
    assert!(p.notes.iter().any(|n| n.contains("output_format")));
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("seed and guidance_scale"))
    );
}

#[test]
fn unknown_models_get_every_field_passed_through() {
    let mut s = spec(Model::Other("doubao-seedream-9".into()));
    s.output_format = Some(OutputFormat::Png);
    s.seed = Some(7);
    let p = prepare(s, Size::Preset(Preset::TwoK), &Profile::default()).unwrap();
    assert_eq!(p.request.model, "doubao-seedream-9");
    assert_eq!(
        (p.request.output_format, p.request.seed),
        (Some(OutputFormat::Png), Some(7))
    );
    assert!(p.notes.is_empty());
}

#[test]
fn out_of_range_seed_and_guidance_are_refused() {
    let mut s = spec(Model::Other("x".into()));
    s.seed = Some(-2);
    assert_eq!(
        prepare(s.clone(), Size::Preset(Preset::TwoK), &Profile::default())
            .unwrap_err()
            .param,
        "seed"
    );
    s.seed = None;
    s.guidance_scale = Some(11.0);
    assert_eq!(
        prepare(s, Size::Preset(Preset::TwoK), &Profile::default())
            .unwrap_err()
            .param,
        "guidance_scale"
    );
}

#[test]
fn references_plus_max_images_may_not_exceed_fifteen() {
    let mut s = spec(Model::Lite50);
    s.images = vec!["https://example.com/a.png".into(); 3];
    s.max_images = Some(13);
    let e = prepare(s.clone(), Size::Preset(Preset::TwoK), &Profile::default()).unwrap_err();
    assert_eq!(e.param, "max_images");
    assert!(e.message.contains("max_images 12 at most"), "{e}");
    s.max_images = Some(12);
    let p = prepare(s, Size::Preset(Preset::TwoK), &Profile::default()).unwrap();
    assert_eq!(
        p.request.sequential_image_generation_options,
        Some(SequentialOptions { max_images: 12 })
    );
}

#[test]
fn fifteen_references_are_refused() {
    let mut s = spec(Model::Lite50);
    s.images = vec!["https://example.com/a.png".into(); 15];
    assert_eq!(
        prepare(s, Size::Preset(Preset::TwoK), &Profile::default())
            .unwrap_err()
            .param,
        "images"
    );
}

#[test]
fn inline_base64_is_switched_to_urls_for_large_outputs() {
    let mut s = spec(Model::V45);
    s.response_format = ResponseFormat::B64Json;
    s.size = Some(Size::Preset(Preset::FourK));
    let p = prepare(s.clone(), Size::Preset(Preset::TwoK), &Profile::default()).unwrap();
    assert_eq!(p.request.response_format, ResponseFormat::Url);
    s.size = None;
    let p = prepare(s, Size::Preset(Preset::TwoK), &Profile::default()).unwrap();
    assert_eq!(p.request.response_format, ResponseFormat::B64Json);
}

#[test]
fn numbers_are_grouped_for_reading() {
    assert_eq!(group(3_686_400), "3,686,400");
    assert_eq!(group(999), "999");
}

#[path = "table_tests.rs"]
mod table_tests;
