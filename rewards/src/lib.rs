//! Quill's built-in reward plugins, one file each. Each file registers itself with
//! `inventory::submit!`; nothing else needs to change to add one (see CONTRIBUTING.md).
//!
//! A binary or test that expects these plugins must reference this crate
//! (`use quill_rewards as _;`), or the linker drops the registrations.

pub mod interest_coverage;
pub mod intra_list_diversity;
pub mod query_specificity;
pub mod retrieval_alignment;
pub mod structural_validity;

/// Names of every reward this crate registers: the registry test checks each is present.
pub const BUILT_IN_REWARDS: &[&str] = &[
    "interest_coverage",
    "intra_list_diversity",
    "query_specificity",
    "retrieval_alignment",
    "structural_validity",
];
