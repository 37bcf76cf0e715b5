//! Each model of the table, accepted and refused, and the exact body of each option.

use super::*;
use crate::model::Price;
use serde_json::json;

fn body(s: GenerationSpec) -> serde_json::Value {
    let p = prepare(s, Size::Preset(Preset::TwoK), &Profile::default()).unwrap();
    serde_json::to_value(p.request).unwrap()
}

fn refused(s: GenerationSpec) -> ValidationError {
    prepare(s, Size::Preset(Preset::TwoK), &Profile::default()).unwrap_err()
}

fn refs(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("https://e.test/{i}.png")).collect()
}

#[test]
fn new_models_resolve_from_their_aliases() {
    assert_eq!(Model::parse("5.0-pro").unwrap(), Model::Pro50);
    assert_eq!(Model::parse("5.0-flash").unwrap(), Model::Flash50);
    assert_eq!(
        Model::parse("5.5").unwrap().id(),
        "doubao-seedream-5-5-261028"
    );
    // A BytePlus id without the prefix passes through unchanged.
    assert_eq!(
        Model::parse("seedream-5-5-261028").unwrap(),
        Model::Other("seedream-5-5-261028".into())
    );
}

#[test]
fn one_to_two_k_models_accept_1k_and_2k_and_refuse_bigger_sizes() {
    for m in [Model::Pro50, Model::Flash50, Model::V55] {
        assert!(with_size(m.clone(), "1K").is_ok(), "{m:?}");
        assert!(with_size(m.clone(), "2048x2048").is_ok(), "{m:?}");
        let e = with_size(m.clone(), "3K").unwrap_err();
        assert!(e.message.contains("1K or 2K"), "{m:?}: {e}");
        let e = with_size(m.clone(), "2560x1920").unwrap_err();
        assert!(e.message.contains("4,194,304"), "{m:?}: {e}");
    }
}

#[test]
fn one_to_two_k_models_take_ten_references_not_eleven() {
    for m in [Model::Pro50, Model::Flash50, Model::V55] {
        let mut s = spec(m.clone());
        s.images = refs(10);
        assert_eq!(body(s.clone())["image"].as_array().unwrap().len(), 10);
        s.images = refs(11);
        let e = refused(s);
        assert_eq!(e.param, "images");
        assert!(e.message.contains("at most 10"), "{e}");
    }
    let mut s = spec(Model::V45);
    s.images = refs(14);
    assert!(prepare(s, Size::Preset(Preset::TwoK), &Profile::default()).is_ok());
}

#[test]
fn sequences_are_refused_on_single_image_models_but_max_images_1_is_a_single_image() {
    let mut s = spec(Model::Pro50);
    s.max_images = Some(4);
    let e = refused(s.clone());
    assert_eq!(e.param, "max_images");
    assert!(e.message.contains("one image per call"), "{e}");
    s.max_images = Some(1);
    let b = body(s);
    assert!(b.get("sequential_image_generation").is_none());
    assert!(b.get("stream").is_none());
    let mut s = spec(Model::Lite50);
    s.max_images = Some(4);
    let b = body(s);
    assert_eq!(b["sequential_image_generation"], "auto");
    assert_eq!(b["stream"], true);
}

#[test]
fn a_transparent_background_is_sent_with_png_on_5_5() {
    let mut s = spec(Model::V55);
    s.background = Some(Background::Transparent);
    let b = body(s);
    assert_eq!(b["background"], "transparent");
    assert_eq!(b["output_format"], "png");
}

#[test]
fn a_transparent_background_is_refused_where_the_model_cannot_make_one() {
    for m in [
        Model::Lite50,
        Model::V45,
        Model::V40,
        Model::Pro50,
        Model::Flash50,
    ] {
        let mut s = spec(m.clone());
        s.background = Some(Background::Transparent);
        let e = refused(s);
        assert_eq!(e.param, "background");
        assert!(e.message.contains("cannot make transparent"), "{m:?}: {e}");
    }
    let mut s = spec(Model::V55);
    s.background = Some(Background::Transparent);
    s.output_format = Some(OutputFormat::Jpeg);
    assert!(refused(s).message.contains("needs PNG"));
}

#[test]
fn the_fast_prompt_mode_is_sent_where_it_exists_and_standard_is_never_sent() {
    let mut s = spec(Model::V40);
    s.prompt_mode = Some(PromptMode::Fast);
    assert_eq!(
        body(s.clone())["optimize_prompt_options"],
        json!({"mode": "fast"})
    );
    s.prompt_mode = Some(PromptMode::Standard);
    assert!(body(s).get("optimize_prompt_options").is_none());
    for m in [Model::Lite50, Model::V45, Model::V55] {
        let mut s = spec(m);
        s.prompt_mode = Some(PromptMode::Fast);
        assert_eq!(refused(s).param, "prompt_mode");
    }
}

#[test]
fn web_search_is_sent_for_5_0_lite_and_refused_elsewhere() {
    let mut s = spec(Model::Lite50);
    s.web_search = true;
    assert_eq!(body(s)["tools"], json!([{"type": "web_search"}]));
    for m in [
        Model::V45,
        Model::V40,
        Model::Pro50,
        Model::Flash50,
        Model::V55,
    ] {
        let mut s = spec(m);
        s.web_search = true;
        assert_eq!(refused(s).param, "web_search");
    }
    assert!(body(spec(Model::Lite50)).get("tools").is_none());
}

#[test]
fn unknown_models_pass_every_option_through() {
    let mut s = spec(Model::Other("ep-20261201".into()));
    s.background = Some(Background::Transparent);
    s.prompt_mode = Some(PromptMode::Fast);
    s.web_search = true;
    let b = body(s);
    assert_eq!(b["background"], "transparent");
    assert_eq!(b["optimize_prompt_options"]["mode"], "fast");
    assert_eq!(b["tools"][0]["type"], "web_search");
}

#[test]
fn prices_estimate_images_references_and_tokens() {
    let p = Model::V55.rules(&Profile::default()).price.unwrap();
    assert!((p.estimate(1, 2, 0) - 0.051).abs() < 1e-9);
    assert_eq!(p.estimate(0, 2, 0), 0.0);
    let tokens = Price {
        per_million_tokens: 10.0,
        ..Price::default()
    };
    assert!((tokens.estimate(1, 0, 16_320) - 0.1632).abs() < 1e-9);
    assert!(Model::Flash50.rules(&Profile::default()).price.is_none());
}
