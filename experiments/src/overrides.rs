//! Command-line changes to an experiment file: `--set path=value` (repeatable; the dotted
//! paths of sweep axes) and `--name`, applied to the file's TOML before it is parsed, so the
//! resolved `config.toml` of the run records them and every check applies to them as to the
//! file. A sweep passes them on to its worker processes.

use anyhow::{Result, anyhow, bail};
use std::path::Path;
use toml::{Table, Value};

/// The overrides of one command line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// `path=value` as given; the value is read as TOML (`1e-4`, `true`, `"text"`, `[1, 2]`),
    /// or as a string where it is not TOML (`experiment.device=cuda`).
    pub set: Vec<String>,
    /// `[experiment] name`, and with it the output directory.
    pub name: Option<String>,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.name.is_none()
    }

    /// The arguments that give these overrides to another `quill` process.
    pub fn args(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.set {
            out.extend(["--set".to_string(), s.clone()]);
        }
        if let Some(name) = &self.name {
            out.extend(["--name".to_string(), name.clone()]);
        }
        out
    }

    /// `src` (the text of `path`) with the overrides applied: `src` itself when there are none,
    /// so that errors keep pointing at the file's own lines.
    pub fn apply(&self, src: &str, path: &Path) -> Result<String> {
        if self.is_empty() {
            return Ok(src.to_string());
        }
        let mut table: Table =
            toml::from_str(src).map_err(|e| anyhow!("{}: not TOML: {e}", path.display()))?;
        for arg in &self.set {
            let (field, value) = parse_set(arg)?;
            crate::sweep::set_path(&mut table, field, value)
                .map_err(|e| anyhow!("--set {arg}: {e}"))?;
        }
        if let Some(name) = &self.name {
            crate::sweep::set_path(&mut table, "experiment.name", Value::String(name.clone()))
                .map_err(|e| anyhow!("--name {name}: {e}"))?;
        }
        toml::to_string(&table).map_err(|e| anyhow!("serialising the overridden config: {e}"))
    }

    /// How errors name the overridden file: `exp.toml (with --set a=1 --name b)`.
    pub fn origin(&self, path: &Path) -> String {
        match self.is_empty() {
            true => path.display().to_string(),
            false => format!("{} (with {})", path.display(), self.args().join(" ")),
        }
    }
}

/// `path=value` into the path and the value.
fn parse_set(arg: &str) -> Result<(&str, Value)> {
    let Some((field, text)) = arg.split_once('=') else {
        bail!("--set {arg}: expected path=value, e.g. --set grpo.learning_rate=1e-4");
    };
    let field = field.trim();
    if field.is_empty() || field.split('.').any(str::is_empty) {
        bail!("--set {arg}: {field:?} is not a dotted field path such as grpo.learning_rate");
    }
    let text = text.trim();
    let value = match toml::from_str::<Table>(&format!("v = {text}")) {
        Ok(mut t) => t.remove("v").unwrap_or(Value::String(text.to_string())),
        Err(_) => Value::String(text.to_string()),
    };
    Ok((field, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(set: &[&str], name: Option<&str>, src: &str) -> Result<Table> {
        let o = Overrides {
            set: set.iter().map(|s| s.to_string()).collect(),
            name: name.map(String::from),
        };
        Ok(toml::from_str(&o.apply(src, Path::new("exp.toml"))?)?)
    }

    #[test]
    fn values_read_as_toml_or_as_text_and_tables_are_created() {
        let t = applied(
            &[
                "grpo.learning_rate=1e-4",
                "experiment.device=cuda",
                "data.world.noise_rate = 0.2",
                "x.flag=true",
            ],
            Some("lr-4"),
            "[grpo]\nsteps = 5\n",
        )
        .unwrap();
        assert_eq!(t["grpo"]["learning_rate"].as_float(), Some(1e-4));
        assert_eq!(t["grpo"]["steps"].as_integer(), Some(5));
        assert_eq!(t["experiment"]["device"].as_str(), Some("cuda"));
        assert_eq!(t["data"]["world"]["noise_rate"].as_float(), Some(0.2));
        assert_eq!(t["x"]["flag"].as_bool(), Some(true));
        assert_eq!(t["experiment"]["name"].as_str(), Some("lr-4"));
    }

    #[test]
    fn bad_overrides_say_what_is_expected() {
        let e = applied(&["grpo.learning_rate"], None, "")
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected path=value"), "{e}");
        let e = applied(&["grpo..x=1"], None, "").unwrap_err().to_string();
        assert!(e.contains("not a dotted field path"), "{e}");
        let e = applied(&["grpo.steps.x=1"], None, "[grpo]\nsteps = 5\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--set grpo.steps.x=1") && e.contains("not a table"),
            "{e}"
        );
    }

    #[test]
    fn no_overrides_leave_the_text_alone_and_args_round_trip() {
        let o = Overrides::default();
        assert_eq!(
            o.apply("# c\n[grpo]\n", Path::new("e.toml")).unwrap(),
            "# c\n[grpo]\n"
        );
        let o = Overrides {
            set: vec!["a.b=1".into()],
            name: Some("n".into()),
        };
        assert_eq!(o.args(), ["--set", "a.b=1", "--name", "n"]);
        assert_eq!(
            o.origin(Path::new("e.toml")),
            "e.toml (with --set a.b=1 --name n)"
        );
    }
}
