//! Text for `quill validate --explain` and `quill rewards`, generated from the declarations.

use crate::config::ExperimentConfig;
use quill::config::{FieldSpec, Section};
use std::fmt::Write;

/// Every field of the experiment schema: path, default, valid values, doc.
pub fn explain() -> String {
    let mut out =
        String::from("# Experiment file fields (defaults shown; every field is optional)\n");
    for f in ExperimentConfig::fields() {
        write_field(&mut out, "", &f);
    }
    out
}

fn write_field(out: &mut String, prefix: &str, f: &FieldSpec) {
    let path = quill::config::join_path(prefix, f.name);
    match &f.children {
        Some(children) => {
            let _ = writeln!(out, "\n[{path}]  # {}", f.doc.lines().next().unwrap_or(""));
            for c in children {
                write_field(out, &path, c);
            }
        }
        None => {
            let default = if path == "rewards" {
                // A map of tables shows as `{}`: the reward set is what a reader looks for.
                let weights: Vec<String> = crate::config::PAPER_REWARDS
                    .iter()
                    .map(|name| format!("{name} = {{ weight = 1.0 }}"))
                    .collect();
                format!("{{ {} }}", weights.join(", "))
            } else if f.default.is_empty() {
                "{}".to_string()
            } else {
                f.default.clone()
            };
            let valid = f.valid();
            let valid = if valid.is_empty() {
                String::new()
            } else {
                format!("  (valid: {valid})")
            };
            let _ = writeln!(out, "{path} = {default}{valid}");
            for line in f.doc.lines() {
                let _ = writeln!(out, "    {}", line.trim());
            }
        }
    }
}

/// Registered rewards, ablations, judges and distillation methods with their descriptions.
pub fn rewards() -> String {
    let mut out = String::from("rewards:\n");
    for p in quill::reward::registered_rewards() {
        let _ = writeln!(out, "  {:<24} {}", p.name, p.description);
    }
    out.push_str("ablations:\n");
    for (name, description) in quill::reward::ablation_names() {
        let _ = writeln!(out, "  {name:<24} {description}");
    }
    out.push_str("judges ([judge] kind):\n");
    for p in quill::reward::registered_judges() {
        let _ = writeln!(out, "  {:<24} {}", p.name, p.description);
    }
    out.push_str("distillation methods ([distill] method):\n");
    for (name, description) in quill::distill::distill_methods() {
        let _ = writeln!(out, "  {name:<24} {description}");
    }
    out
}

/// The policy presets as a table: shape, tokenizer vocabulary and parameter count.
pub fn presets() -> String {
    let mut out = format!(
        "{:<7} {:>6} {:>6} {:>6} {:>9} {:>5} {:>11}  {}\n",
        "preset", "vocab", "hidden", "layers", "heads/kv", "mlp", "parameters", "use"
    );
    for p in quill::policy::presets() {
        let c = &p.config;
        out += &format!(
            "{:<7} {:>6} {:>6} {:>6} {:>9} {:>5} {:>11}  {}\n",
            p.name,
            c.vocab_size,
            c.hidden_size,
            c.layers,
            format!("{}/{}", c.heads, c.kv_heads),
            c.intermediate_size,
            thousands(c.param_count()),
            p.description
        );
    }
    out
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
