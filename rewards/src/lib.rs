//! Quill's built-in reward plugins, one file each. Each file registers itself with
//! `inventory::submit!`; adding one is the file and its `mod` line (see CONTRIBUTING.md).
//!
//! A binary or test that expects these plugins must reference this crate
//! (`use quill_rewards as _;`), or the linker drops the registrations.

pub mod interest_coverage;
pub mod intra_list_diversity;
pub mod query_specificity;
pub mod retrieval_alignment;
pub mod structural_validity;

/// The paper's five rewards, in the paper's order: the reward set of an experiment file
/// without `[rewards]` tables. A reward added to this crate beyond them joins an experiment
/// only when its file names it.
pub const PAPER_REWARDS: [&str; 5] = [
    "retrieval_alignment",
    "interest_coverage",
    "query_specificity",
    "intra_list_diversity",
    "structural_validity",
];
