//! Several previews under one size budget (Claude Desktop refuses a tool result over 1 MiB).
//! Each image is decoded once to the largest size that may be needed; every later attempt
//! resamples and re-encodes those pixels only.

use super::pixels::Pixels;
use super::{Preview, decode, encode, resize};

/// Quality of the first attempt: good previews at about a third of quality 95's size.
const START_QUALITY: u8 = 80;
/// The first fallback, taken when the sum is only a little over: about 25% smaller than
/// `START_QUALITY` at the same resolution, which matters more to the model than fine detail.
const SECOND_QUALITY: u8 = 70;
/// The floor: a preview still recognisable at 256 px.
const MIN_QUALITY: u8 = 50;
const MIN_EDGE: u32 = 256;
/// Aim a little under the estimate, since JPEG size does not fall exactly with pixel count.
const HEADROOM: f64 = 0.95;
/// Attempts before going straight to the floor; the estimate usually converges in 2–4.
const MAX_ATTEMPTS: usize = 8;

/// One try: the long-edge cap applied to every image, and the JPEG quality.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Step {
    edge: u32,
    quality: u8,
}

const FLOOR: Step = Step {
    edge: MIN_EDGE,
    quality: MIN_QUALITY,
};

pub(super) fn previews_within_budget(
    images: &[&[u8]],
    max_edge: u32,
    budget_b64_bytes: usize,
) -> Option<Vec<Preview>> {
    let mut sources = Vec::with_capacity(images.len());
    for (index, bytes) in images.iter().enumerate() {
        match decode::load(bytes, |w, h| resize::within_edge(w, h, max_edge)) {
            Ok(loaded) => sources.push(loaded.pixels),
            Err(error) => {
                tracing::warn!(index, %error, "no preview: the image cannot be read");
                return None;
            }
        }
    }
    let largest = sources.iter().map(Pixels::long_edge).max().unwrap_or(0);
    let mut step = Step {
        edge: max_edge.min(largest).max(1),
        quality: START_QUALITY,
    };
    for _ in 0..MAX_ATTEMPTS {
        let (previews, total) = render(&sources, step)?;
        if total <= budget_b64_bytes {
            return Some(previews);
        }
        tracing::debug!(?step, total, budget_b64_bytes, "previews over budget");
        step = next(step, total, budget_b64_bytes)?;
    }
    let (previews, total) = render(&sources, FLOOR)?;
    (total <= budget_b64_bytes).then_some(previews)
}

/// The previews at `step` and the sum of their base64 lengths.
fn render(sources: &[Pixels], step: Step) -> Option<(Vec<Preview>, usize)> {
    let mut previews = Vec::with_capacity(sources.len());
    let mut total = 0;
    for source in sources {
        let (width, height) = resize::within_edge(source.width, source.height, step.edge);
        let jpeg = if (width, height) == (source.width, source.height) {
            encode::jpeg(source, step.quality)
        } else {
            resize::resize(source, width, height).and_then(|p| encode::jpeg(&p, step.quality))
        };
        let jpeg = jpeg
            .inspect_err(|error| tracing::warn!(%error, "no preview: encoding failed"))
            .ok()?;
        total += encode::base64_len(jpeg.len());
        previews.push(Preview {
            jpeg,
            width,
            height,
        });
    }
    Some((previews, total))
}

/// The next, smaller step, or `None` once the floor has been tried.
fn next(step: Step, total: usize, budget: usize) -> Option<Step> {
    if step.edge <= MIN_EDGE && step.quality <= MIN_QUALITY {
        return None;
    }
    let ratio = budget as f64 / total.max(1) as f64;
    if step.quality > SECOND_QUALITY && ratio >= 0.7 {
        return Some(Step {
            quality: SECOND_QUALITY,
            ..step
        });
    }
    if step.edge > MIN_EDGE {
        // Bytes follow pixel count, so the edge shrinks with the square root of the overshoot.
        let edge = (f64::from(step.edge) * ratio.sqrt() * HEADROOM) as u32;
        return Some(Step {
            edge: edge.clamp(MIN_EDGE, step.edge - 1),
            ..step
        });
    }
    Some(FLOOR)
}

#[cfg(test)]
mod tests {
    use super::super::test_images::{jpeg_size, photo_jpeg};
    use super::*;

    /// What a tool result may spend on images under Claude Desktop's 1 MiB cap.
    const BUDGET: usize = 700 * 1024;
    /// The Claude API downsizes anything longer.
    const CLIENT_EDGE: u32 = 1568;

    fn assert_fits(count: usize, side: u32) {
        let source = photo_jpeg(side, side);
        let images = vec![source.as_slice(); count];
        let previews = previews_within_budget(&images, CLIENT_EDGE, BUDGET)
            .unwrap_or_else(|| panic!("{count} x {side}px did not fit"));
        assert_eq!(previews.len(), count);
        let total: usize = previews
            .iter()
            .map(|p| encode::base64_len(p.jpeg.len()))
            .sum();
        assert!(total <= BUDGET, "{count} x {side}px: {total} > {BUDGET}");
        for p in &previews {
            assert!(p.width.max(p.height) <= CLIENT_EDGE, "{p:?}");
            assert!(
                p.width.max(p.height) >= MIN_EDGE,
                "{count} x {side}px: {p:?}"
            );
            assert_eq!(jpeg_size(&p.jpeg), (p.width, p.height));
        }
    }

    #[test]
    fn one_four_and_fifteen_2k_images_fit_the_budget() {
        for count in [1, 4, 15] {
            assert_fits(count, 2048);
        }
    }

    #[test]
    fn one_four_and_fifteen_4k_images_fit_the_budget() {
        for count in [1, 4, 15] {
            assert_fits(count, 4096);
        }
    }

    #[test]
    fn a_single_image_under_a_generous_budget_keeps_the_full_edge() {
        let source = photo_jpeg(2048, 2048);
        let previews = previews_within_budget(&[&source], CLIENT_EDGE, 4 * 1024 * 1024).unwrap();
        assert_eq!((previews[0].width, previews[0].height), (1568, 1568));
    }

    #[test]
    fn an_impossible_budget_gives_none() {
        let source = photo_jpeg(1024, 1024);
        assert_eq!(
            previews_within_budget(&[source.as_slice(); 4], CLIENT_EDGE, 2_000),
            None
        );
    }

    #[test]
    fn an_unreadable_image_gives_none() {
        let good = photo_jpeg(64, 64);
        assert_eq!(
            previews_within_budget(&[good.as_slice(), b"GIF89a"], 512, BUDGET),
            None
        );
    }

    #[test]
    fn no_images_need_no_budget() {
        assert_eq!(previews_within_budget(&[], 512, 0), Some(Vec::new()));
    }

    #[test]
    fn steps_always_shrink_and_end_at_the_floor() {
        let mut step = Step {
            edge: 4096,
            quality: START_QUALITY,
        };
        let mut seen = 0;
        while let Some(smaller) = next(step, 10 * BUDGET, BUDGET) {
            assert!(smaller.edge < step.edge || smaller.quality < step.quality);
            step = smaller;
            seen += 1;
            assert!(seen < 50);
        }
        assert_eq!(step, FLOOR);
    }
}
