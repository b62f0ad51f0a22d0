//! Declarative config sections: each field's doc, default and valid range are written once, in
//! a `config_section!` block, and drive serde parsing, validation errors and `quill validate
//! --explain` alike (as ripgrep derives its help and docs from one list of flags).

mod check;
mod section;

pub use check::{Check, Checkable};
pub use section::{FieldSpec, Section, join_path, show_value};
