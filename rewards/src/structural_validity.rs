//! `structural_validity`: 1 if the output parses as the documented query-list format (count
//! within bounds, each query within length bounds, no duplicates, terminated), else 0.
//!
//! The paper's "binary rule-based format check". Binary on purpose: partial credit for a
//! half-formed list would let the policy trade format for other rewards.

use quill::error::Result;
use quill::reward::{Reward, RewardContext, RewardPlugin, parameterless};
use quill::text::query_list::QueryList;

pub struct StructuralValidity;

impl Reward for StructuralValidity {
    fn name(&self) -> &'static str {
        "structural_validity"
    }
    fn score(&self, _: &RewardContext<'_>, list: &QueryList) -> Result<f32> {
        Ok(if list.is_valid() { 1.0 } else { 0.0 })
    }
}

fn build(params: &toml::Table) -> Result<Box<dyn Reward>> {
    parameterless("structural_validity", params, Box::new(StructuralValidity))
}

inventory::submit! {
    RewardPlugin {
        name: "structural_validity",
        description: "1 if the output is a well-formed query list ([format] bounds), else 0",
        build,
    }
}
