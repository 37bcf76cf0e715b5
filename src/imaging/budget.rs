//! Several previews under one size budget (Claude Desktop refuses a tool result over 1 MiB).
//! Images are decoded one at a time and only their encoded previews kept, so a call's memory
//! stays near the size of its images; a probe of the first image picks a starting size that
//! usually fits at once, so each image is decoded about once.

use super::{Preview, encode};

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
/// How JPEG bytes scale with the long edge before two attempts have measured it: above the
/// pixel-count exponent of 2, because downscaling averages noise away, so the first cut is
/// cautious and the budget is used well; an undershoot costs one more, cheaper, attempt.
const FIRST_EXPONENT: f64 = 2.5;
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
    let Some(first) = images.first() else {
        return Some(Vec::new());
    };
    let mut step = Step {
        edge: max_edge.max(1),
        quality: START_QUALITY,
    };
    // Probe with the first image and project its size onto all of them, so the first full
    // attempt usually fits and every image is decoded about once.
    let probe = render_one(first, step)?;
    let projected = encode::base64_len(probe.jpeg.len()) * images.len();
    step.edge = step.edge.min(probe.width.max(probe.height));
    let mut earlier = None;
    if projected > budget_b64_bytes {
        let tried = Tried {
            step,
            total: projected,
        };
        step = next(tried, None, budget_b64_bytes)?;
        earlier = Some(tried);
    }
    for attempt in 0..=MAX_ATTEMPTS {
        if attempt == MAX_ATTEMPTS {
            step = FLOOR;
        }
        let (previews, total) = render(images, step)?;
        if total <= budget_b64_bytes {
            return Some(previews);
        }
        tracing::debug!(?step, total, budget_b64_bytes, "previews over budget");
        let tried = Tried { step, total };
        step = next(tried, earlier, budget_b64_bytes)?;
        earlier = Some(tried);
    }
    None
}

/// An attempt that went over budget.
#[derive(Debug, Clone, Copy)]
struct Tried {
    step: Step,
    total: usize,
}

/// The previews of all `images` at `step`, and the sum of their base64 lengths. Each image is
/// decoded (DCT-scaled for JPEGs), encoded and its pixels dropped before the next, so memory
/// holds one decoded image at a time, never all of them.
fn render(images: &[&[u8]], step: Step) -> Option<(Vec<Preview>, usize)> {
    let mut previews = Vec::with_capacity(images.len());
    let mut total = 0;
    for bytes in images {
        let preview = render_one(bytes, step)?;
        total += encode::base64_len(preview.jpeg.len());
        previews.push(preview);
    }
    Some((previews, total))
}

fn render_one(bytes: &[u8], step: Step) -> Option<Preview> {
    super::preview(bytes, step.edge, step.quality)
        .inspect_err(|error| tracing::warn!(%error, "no preview"))
        .ok()
}

/// The next, smaller step after `last` went over, or `None` once the floor has been tried.
/// `earlier`, the attempt before, lets the size-per-edge exponent be measured, not guessed.
fn next(last: Tried, earlier: Option<Tried>, budget: usize) -> Option<Step> {
    let step = last.step;
    if step.edge <= MIN_EDGE && step.quality <= MIN_QUALITY {
        return None;
    }
    let ratio = budget as f64 / last.total.max(1) as f64;
    if step.quality > SECOND_QUALITY && ratio >= 0.7 {
        return Some(Step {
            quality: SECOND_QUALITY,
            ..step
        });
    }
    if step.edge > MIN_EDGE {
        let exponent = earlier
            .and_then(|e| measured_exponent(e, last))
            .unwrap_or(FIRST_EXPONENT);
        let edge = f64::from(step.edge) * (ratio * HEADROOM).powf(1.0 / exponent);
        return Some(Step {
            edge: (edge as u32).clamp(MIN_EDGE, step.edge - 1),
            ..step
        });
    }
    Some(FLOOR)
}

/// `k` in bytes ∝ edge^k from two attempts at the same quality, within a plausible range.
fn measured_exponent(a: Tried, b: Tried) -> Option<f64> {
    let same_quality = a.step.quality == b.step.quality;
    let edges = f64::from(a.step.edge) / f64::from(b.step.edge);
    let totals = a.total as f64 / b.total.max(1) as f64;
    (same_quality && edges > 1.0 && totals > 1.0)
        .then(|| (totals.ln() / edges.ln()).clamp(1.0, 3.0))
}

#[cfg(test)]
mod tests {
    use super::super::test_images::{jpeg_size, photo_jpeg};
    use super::*;

    /// What a tool result may spend on images under Claude Desktop's 1 MiB cap.
    const BUDGET: usize = 700 * 1024;
    /// The Claude API downsizes anything longer.
    const CLIENT_EDGE: u32 = 1568;
    /// The start edge of the many-image cases: 1/2 and 1/4 of 2K and 4K, reached by DCT
    /// scaling alone. Resampling is unoptimised in debug builds (the resizer's generic code is
    /// compiled with this crate), and these cases must shrink anyway.
    const START_EDGE: u32 = 1024;

    fn assert_fits(count: usize, side: u32, max_edge: u32) -> Vec<Preview> {
        let source = photo_jpeg(side, side);
        let images = vec![source.as_slice(); count];
        let previews = previews_within_budget(&images, max_edge, BUDGET)
            .unwrap_or_else(|| panic!("{count} x {side}px did not fit"));
        assert_eq!(previews.len(), count);
        let total: usize = previews
            .iter()
            .map(|p| encode::base64_len(p.jpeg.len()))
            .sum();
        assert!(total <= BUDGET, "{count} x {side}px: {total} > {BUDGET}");
        // The budget is used, not squandered on needlessly small previews.
        let largest = previews.iter().map(|p| p.width).max().unwrap_or(0);
        assert!(
            largest * 100 >= max_edge * 85 || total > BUDGET / 2,
            "{count} x {side}px: {total}"
        );
        for p in &previews {
            assert!(p.width.max(p.height) <= max_edge.min(CLIENT_EDGE), "{p:?}");
            assert!(
                p.width.max(p.height) >= MIN_EDGE,
                "{count} x {side}px: {p:?}"
            );
            assert_eq!(jpeg_size(&p.jpeg), (p.width, p.height));
        }
        previews
    }

    #[test]
    fn one_four_and_fifteen_2k_images_fit_the_budget() {
        for count in [1, 4, 15] {
            assert_fits(count, 2048, START_EDGE);
        }
    }

    #[test]
    fn one_four_and_fifteen_4k_images_fit_the_budget() {
        for count in [1, 4, 15] {
            assert_fits(count, 4096, START_EDGE);
        }
    }

    #[test]
    fn a_single_4k_image_keeps_nearly_the_full_client_edge() {
        let previews = assert_fits(1, 4096, CLIENT_EDGE);
        // 3/8 of 4096: the largest DCT scale within 1568, so no resampling pass.
        assert_eq!((previews[0].width, previews[0].height), (1536, 1536));
    }

    #[test]
    fn a_tight_budget_shrinks_the_previews_and_uses_most_of_it() {
        let source = photo_jpeg(1024, 768);
        let previews = previews_within_budget(&[source.as_slice(); 6], 1024, 120_000).unwrap();
        let total: usize = previews
            .iter()
            .map(|p| encode::base64_len(p.jpeg.len()))
            .sum();
        assert!(total <= 120_000 && total > 60_000, "{total}");
        for p in &previews {
            assert!(p.width < 1024 && p.width >= MIN_EDGE, "{p:?}");
            let ratio = f64::from(p.width) / f64::from(p.height);
            assert!((ratio - 4.0 / 3.0).abs() < 0.01, "{p:?}");
        }
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
    fn the_size_exponent_is_measured_from_two_attempts_at_one_quality() {
        let at = |edge, quality, total| Tried {
            step: Step { edge, quality },
            total,
        };
        let k = measured_exponent(at(1000, 80, 400_000), at(500, 80, 100_000)).unwrap();
        assert!((k - 2.0).abs() < 1e-9);
        assert_eq!(
            measured_exponent(at(1000, 80, 400_000), at(1000, 70, 300_000)),
            None
        );
        assert_eq!(
            measured_exponent(at(1000, 80, 9), at(500, 80, 9_000_000)),
            None
        );
    }

    #[test]
    fn steps_always_shrink_and_end_at_the_floor() {
        let mut step = Step {
            edge: 4096,
            quality: START_QUALITY,
        };
        let mut seen = 0;
        let over = |step| Tried {
            step,
            total: 10 * BUDGET,
        };
        while let Some(smaller) = next(over(step), None, BUDGET) {
            assert!(smaller.edge < step.edge || smaller.quality < step.quality);
            step = smaller;
            seen += 1;
            assert!(seen < 50);
        }
        assert_eq!(step, FLOOR);
    }
}
