//! What a trained stage records for experiment trackers: the resolved config, flattened to
//! dotted names, and the code's provenance (`quill.version`, `quill.git_commit`,
//! `quill.git_dirty`), as TensorBoard hparams beside the stage's scalars. W&B and MLflow take
//! runs from there (docs/configuration.md, "Experiment tracking").

use crate::config::Experiment;
use anyhow::{Context, Result};
use quill::log::HParam;
use std::collections::BTreeMap;
use std::path::Path;

/// Writes the run's hparams into the TensorBoard directory of the stage logged in `log_dir`.
pub fn write_hparams(exp: &Experiment, log_dir: &Path) -> Result<()> {
    quill::log::write_hparams(log_dir, &hparams(exp)?)?;
    Ok(())
}

/// The resolved config's leaves by dotted path, and the provenance under `quill.`.
pub fn hparams(exp: &Experiment) -> Result<BTreeMap<String, HParam>> {
    let table = toml::Table::try_from(&exp.config).context("serialising the resolved config")?;
    let mut out = BTreeMap::new();
    flatten("", &toml::Value::Table(table), &mut out);
    let provenance = crate::provenance::provenance(&exp.base_dir);
    let text = |key: &str| provenance[key].as_str().unwrap_or("none").to_string();
    out.insert("quill.version".into(), HParam::Text(text("quill_version")));
    out.insert("quill.git_commit".into(), HParam::Text(text("git_commit")));
    if let Some(dirty) = provenance["git_dirty"].as_bool() {
        out.insert("quill.git_dirty".into(), HParam::Bool(dirty));
    }
    Ok(out)
}

/// Tables become dotted prefixes; arrays and dates are shown as their TOML text (the
/// dashboard's values are numbers, strings and booleans).
fn flatten(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, HParam>) {
    let leaf = match value {
        toml::Value::Table(table) => {
            for (key, inner) in table {
                flatten(&quill::config::join_path(prefix, key), inner, out);
            }
            return;
        }
        toml::Value::Integer(i) => HParam::Number(*i as f64),
        toml::Value::Float(x) => HParam::Number(*x),
        toml::Value::Boolean(b) => HParam::Bool(*b),
        toml::Value::String(s) => HParam::Text(s.clone()),
        other => HParam::Text(other.to_string()),
    };
    out.insert(prefix.to_string(), leaf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_tables_flatten_to_dotted_names_with_their_types() {
        let value: toml::Value = toml::from_str(
            "[grpo]\nlearning_rate = 5e-4\nsteps = 60\n[policy]\npreset = \"nano\"\n\
             [policy.lora]\nenabled = false\ntargets = [\"q\", \"v\"]\n",
        )
        .unwrap();
        let mut out = BTreeMap::new();
        flatten("", &value, &mut out);
        assert_eq!(out["grpo.learning_rate"], HParam::Number(5e-4));
        assert_eq!(out["grpo.steps"], HParam::Number(60.0));
        assert_eq!(out["policy.preset"], HParam::Text("nano".into()));
        assert_eq!(out["policy.lora.enabled"], HParam::Bool(false));
        assert_eq!(
            out["policy.lora.targets"],
            HParam::Text("[\"q\", \"v\"]".into())
        );
        assert_eq!(out.len(), 5);
    }
}
