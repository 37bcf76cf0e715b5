//! The built-in model table: what each known model accepts and its list price, with the source
//! of each rule and the date it was read. A models file (`overrides.rs`) can change any of it
//! without a rebuild.
//!
//! Sources (codes as in the project's seedream-api.md):
//! - **S1** BytePlus ModelArk "Image generation API", docs.byteplus.com/en/docs/ModelArk/1541523
//!   (early 2026); **S4** a line-by-line review of its revision 265 (2026-10); **S8** ComfyUI
//!   `nodes_bytedance.py` — sizes, references, fields and prices of 5.0 lite, 4.5 and 4.0
//!   (seedream-api.md §2, §4, §10; state 2026-11).
//! - **A1** docs.apiyi.com "Seedream 历史版本" (read 2026-11-30): 5.0 pro presets 1K/2K, exact
//!   sizes up to 4.19 MP, one image per call, 0.12 USD per call.
//! - **A2** seedream-api.md §1 (2026-11): "5.0 pro/flash: 1K–2K, 10 refs, no groups, no stream".
//! - **A3** mcp-2026-extensions.md §6 (2026-11): 5.0 pro 0.92–4.19 MP, up to 10 references, a
//!   fast prompt mode since 2026-08-19; 5.0 flash flat price per image at 1K–2K.
//! - **A4** docs.laozhang.ai "Seedream 5.5" and its launch note (2026-11-13): 1K/1.5K/2K or exact
//!   pixels up to about 2048x2048, up to 10 references, `background: transparent` with PNG, no
//!   sequences, no streaming, no fast mode; 0.035 USD per image plus 0.008 per reference.
//!
//! None of these is an official Volcengine/BytePlus page for pro, flash or 5.5 (none could be
//! found): where a rule was not documented the permissive choice is kept and marked "assumed".

use super::{Model, Price, Rules};
use crate::reference::MAX_REFERENCES;
use crate::size::Preset;

const MIN_1K: u64 = 921_600;
const MIN_2K: u64 = 3_686_400;
const MAX_2K: u64 = 4_194_304;
const MAX_LITE_EARLY: u64 = 10_404_496;
const MAX_4K: u64 = 16_777_216;

fn per_image(usd: f64) -> Option<Price> {
    Some(Price {
        per_image: usd,
        ..Price::default()
    })
}

/// 4.x and 5.0 lite: sequences, streaming, 14 references (S1).
fn four_x() -> Rules {
    Rules {
        presets: vec![Preset::TwoK, Preset::FourK],
        pixels: (MIN_2K, MAX_4K),
        max_references: MAX_REFERENCES,
        sequences: true,
        streaming: true,
        output_format: false,
        transparent: false,
        web_search: false,
        fast_prompt: false,
        seed_and_guidance: false,
        price: None,
    }
}

/// 5.0 pro, 5.0 flash, 5.5: one image at 1K–2K from up to 10 references, unstreamed (A2–A4).
fn one_to_two_k() -> Rules {
    Rules {
        presets: vec![Preset::OneK, Preset::TwoK],
        pixels: (MIN_1K, MAX_2K),
        max_references: 10,
        sequences: false,
        streaming: false,
        ..four_x()
    }
}

/// The built-in rules of `model`; `lite_4k` picks the 5.0 lite documentation revision.
pub(super) fn builtin(model: &Model, lite_4k: bool) -> Rules {
    use Preset::{FourK, OneK, ThreeK, TwoK};
    match model {
        // S1, S4 (2026-10): 2K/3K/4K up to 16.8 MP from the 2026-09 revision, PNG, web
        // search; S4, S8: 0.035 USD per image.
        Model::Lite50 => Rules {
            presets: if lite_4k {
                vec![TwoK, ThreeK, FourK]
            } else {
                vec![TwoK, ThreeK]
            },
            pixels: (MIN_2K, if lite_4k { MAX_4K } else { MAX_LITE_EARLY }),
            output_format: true,
            web_search: true,
            price: per_image(0.035),
            ..four_x()
        },
        // S1 (early 2026): 2K/4K, 3.7–16.8 MP; S4, S8: 0.04 USD per image.
        Model::V45 => Rules {
            price: per_image(0.04),
            ..four_x()
        },
        // S1: 1K/2K/4K, 0.9–16.8 MP, the only model with the fast prompt mode; 0.03 USD.
        Model::V40 => Rules {
            presets: vec![OneK, TwoK, FourK],
            pixels: (MIN_1K, MAX_4K),
            fast_prompt: true,
            price: per_image(0.03),
            ..four_x()
        },
        // A1, A2, A3: 1K/2K, 0.92–4.19 MP, 10 references, one image, no stream, fast mode
        // (A3); output_format assumed honoured; price per call from A1 (the official price
        // has two pixel tiers that were not found).
        Model::Pro50 => Rules {
            output_format: true,
            fast_prompt: true,
            price: per_image(0.12),
            ..one_to_two_k()
        },
        // A2, A3: 1K–2K, 10 references, no groups, no stream. Pixel range assumed as pro's;
        // output_format assumed honoured; the flat price was not found (set it in a models
        // file to get estimates).
        Model::Flash50 => Rules {
            output_format: true,
            ..one_to_two_k()
        },
        // A4: 1K–2K (1.5K has no preset here: send pixels), 10 references, transparent PNG,
        // output_format (PNG by default), no sequences or streaming, no fast mode.
        Model::V55 => Rules {
            output_format: true,
            transparent: true,
            price: Some(Price {
                per_image: 0.035,
                per_reference: 0.008,
                per_million_tokens: 0.0,
            }),
            ..one_to_two_k()
        },
        Model::Other(_) => Rules::permissive(),
    }
}
