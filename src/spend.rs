//! Spend control: what a call cost, estimated from the model table's prices. The estimate is
//! computed from what the upstream says it billed (`usage.generated_images`, `output_tokens`),
//! so failed images, which are not billed, cost nothing.

mod cost;

pub use cost::Cost;
