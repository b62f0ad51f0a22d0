//! The judge registry and the `[judge]` section: `kind` names a registered [`JudgePlugin`] and
//! `[judge.<name>]` holds that judge's settings.
//!
//! A judge is one file that implements [`Judge`] and registers a [`JudgePlugin`] with
//! `inventory::submit!`, like rewards, ablations, distillation methods and presets. Every build
//! registers every judge, so every build parses, documents (`quill validate --explain`) and
//! checks the same experiment files; a judge that needs a cargo feature says which
//! (`missing_feature`), and selecting it in a build without that feature fails validation at
//! `judge.kind`, before any work.

use super::judge::Judge;
use crate::config::{Check, Checkable, FieldSpec, Section, join_path};
use crate::error::{Error, Result};
use crate::text::term_stats::TermStats;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

/// How a judge is built: from its settings table and the corpus's term statistics.
pub type BuildJudge = fn(&toml::Table, Arc<TermStats>) -> Result<Arc<dyn Judge>>;

/// A registered judge: its name in `[judge] kind`, a line for `--explain` and errors, and how
/// its `[judge.<name>]` settings are described, checked and built.
pub struct JudgePlugin {
    pub name: &'static str,
    pub description: &'static str,
    /// The cargo feature this build lacks to construct it, if any (`None` when it can).
    pub missing_feature: Option<&'static str>,
    /// The fields of its settings table, for `--explain` (`Vec::new` when it takes none).
    pub fields: fn() -> Vec<FieldSpec>,
    /// Checks its settings table; errors name fields under the given dotted path.
    pub check: fn(&toml::Table, &str) -> Result<()>,
    /// Builds it from its settings table (empty when the file has none) and the corpus's term
    /// statistics.
    pub build: BuildJudge,
}

inventory::collect!(JudgePlugin);

/// Every registered judge, sorted by name.
pub fn registered_judges() -> Vec<&'static JudgePlugin> {
    let mut all: Vec<&'static JudgePlugin> = inventory::iter::<JudgePlugin>.into_iter().collect();
    all.sort_by_key(|p| p.name);
    all
}

/// The registered names, sorted; `'static` because `--explain`'s field choices are.
fn judge_names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| registered_judges().iter().map(|p| p.name).collect())
}

fn find_judge(name: &str, field: &str) -> Result<&'static JudgePlugin> {
    registered_judges()
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| {
            Error::field(
                field,
                format!(
                    "unknown judge {name:?}: registered judges are {}",
                    judge_names().join(", ")
                ),
            )
        })
}

/// A judge's settings read into the `config_section!` struct `T`, its ranges checked; errors
/// name fields under `path` (where experiment files set them).
pub fn judge_settings<T: Section + serde::de::DeserializeOwned>(
    table: &toml::Table,
    path: &str,
) -> Result<T> {
    let settings: T = toml::Value::Table(table.clone())
        .try_into()
        .map_err(|e: toml::de::Error| Error::field(path, e.message().trim().to_string()))?;
    settings.validate(path)?;
    Ok(settings)
}

/// The `check` of a judge without settings: its table must be empty.
pub fn no_settings(table: &toml::Table, path: &str) -> Result<()> {
    match table.keys().next() {
        Some(key) => Err(Error::field(
            join_path(path, key),
            "this judge takes no settings",
        )),
        None => Ok(()),
    }
}

/// The `[judge]` section: the judge of the interest-coverage and query-specificity rubrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "toml::Table", into = "toml::Table")]
pub struct JudgeConfig {
    /// A registered judge's name (`rules`, built in and deterministic, by default).
    pub kind: String,
    /// `[judge.<name>]` tables, as written: the settings of the judges they name.
    pub settings: BTreeMap<String, toml::Table>,
}

impl Default for JudgeConfig {
    fn default() -> Self {
        JudgeConfig {
            kind: "rules".into(),
            settings: BTreeMap::new(),
        }
    }
}

impl TryFrom<toml::Table> for JudgeConfig {
    type Error = String;
    fn try_from(table: toml::Table) -> std::result::Result<Self, String> {
        let mut cfg = JudgeConfig::default();
        for (key, value) in table {
            match (key.as_str(), value) {
                ("kind", toml::Value::String(kind)) => cfg.kind = kind,
                ("kind", other) => {
                    return Err(format!(
                        "judge.kind: expected a judge's name as a string, found {other}"
                    ));
                }
                (_, toml::Value::Table(settings)) => {
                    cfg.settings.insert(key, settings);
                }
                (_, other) => {
                    return Err(format!(
                        "judge.{key} = {other}: the section takes `kind` and `[judge.<name>]` \
                         tables of registered judges' settings ({})",
                        judge_names().join(", ")
                    ));
                }
            }
        }
        Ok(cfg)
    }
}

impl From<JudgeConfig> for toml::Table {
    fn from(cfg: JudgeConfig) -> toml::Table {
        let mut table = toml::Table::new();
        table.insert("kind".into(), toml::Value::String(cfg.kind));
        for (name, settings) in cfg.settings {
            table.insert(name, toml::Value::Table(settings));
        }
        table
    }
}

impl JudgeConfig {
    /// Builds the selected judge. `stats` serves judges that read the corpus (the rule judge's
    /// IDF and entity words).
    pub fn build(&self, stats: Arc<TermStats>) -> Result<Arc<dyn Judge>> {
        self.validate("judge")?;
        let plugin = find_judge(&self.kind, "judge.kind")?;
        let empty = toml::Table::new();
        (plugin.build)(self.settings.get(&self.kind).unwrap_or(&empty), stats)
    }
}

impl Section for JudgeConfig {
    fn fields() -> Vec<FieldSpec> {
        let mut fields = vec![FieldSpec {
            name: "kind",
            doc: "Which registered judge answers the rubric items (`quill rewards` lists them).",
            default: "\"rules\"".into(),
            check: Check::NonEmpty,
            choices: Some(judge_names()),
            children: None,
        }];
        for plugin in registered_judges() {
            let children = (plugin.fields)();
            if !children.is_empty() {
                fields.push(FieldSpec {
                    name: plugin.name,
                    doc: plugin.description,
                    default: String::new(),
                    check: Check::Any,
                    choices: None,
                    children: Some(children),
                });
            }
        }
        fields
    }

    fn validate(&self, prefix: &str) -> Result<()> {
        let kind_field = join_path(prefix, "kind");
        let selected = find_judge(&self.kind, &kind_field)?;
        if let Some(feature) = selected.missing_feature {
            let others: Vec<&str> = registered_judges()
                .iter()
                .filter(|p| p.missing_feature.is_none())
                .map(|p| p.name)
                .collect();
            return Err(Error::field(
                kind_field,
                format!(
                    "judge {:?} is not in this build: rebuild with `--features {feature}` \
                     (e.g. `cargo run --features {feature} -- ...`), or choose one of {}",
                    self.kind,
                    others.join(", ")
                ),
            ));
        }
        for (name, table) in &self.settings {
            let path = join_path(prefix, name);
            let plugin = find_judge(name, &path)?;
            let fields = (plugin.fields)();
            if let Some(key) = table.keys().find(|k| !fields.iter().any(|f| f.name == *k)) {
                let valid: Vec<&str> = fields.iter().map(|f| f.name).collect();
                return Err(Error::field(
                    join_path(&path, key),
                    format!(
                        "unknown field {key:?}: the {name} judge's settings are {}",
                        if valid.is_empty() {
                            "none".to_string()
                        } else {
                            valid.join(", ")
                        }
                    ),
                ));
            }
            (plugin.check)(table, &path)?;
        }
        Ok(())
    }
}

impl Checkable for JudgeConfig {
    fn check(&self, _: &Check, path: &str) -> Result<()> {
        self.validate(path)
    }
    fn nested() -> Option<Vec<FieldSpec>> {
        Some(Self::fields())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reward::HttpJudgeConfig;

    fn stats() -> Arc<TermStats> {
        Arc::new(TermStats::build(&crate::reward::testing::corpus(&[
            "a title",
        ])))
    }

    #[test]
    fn defaults_to_the_rule_judge_and_keeps_settings_as_written() {
        let cfg: JudgeConfig = toml::from_str("").unwrap();
        assert_eq!(cfg, JudgeConfig::default());
        assert_eq!(cfg.kind, "rules");
        let text = "kind = \"http\"\n[http]\nmodel = \"m\"\nbatch_size = 4\n";
        let cfg: JudgeConfig = toml::from_str(text).unwrap();
        assert_eq!(cfg.kind, "http");
        let http: HttpJudgeConfig = judge_settings(&cfg.settings["http"], "judge.http").unwrap();
        assert_eq!((http.model.as_str(), http.batch_size), ("m", 4));
        assert_eq!(http.retries, 2, "unset fields keep their defaults");
        // What is saved in a run's config.toml reads back the same.
        let saved = toml::to_string(&cfg).unwrap();
        assert_eq!(toml::from_str::<JudgeConfig>(&saved).unwrap(), cfg);
    }

    #[test]
    fn bad_kinds_tables_and_fields_name_the_field_and_the_valid_values() {
        let check = |text: &str| {
            toml::from_str::<JudgeConfig>(text)
                .map_err(|e| e.message().to_string())
                .and_then(|c| c.validate("judge").map_err(|e| e.to_string()))
                .unwrap_err()
        };
        let err = check("kind = \"gpt\"\n");
        assert!(
            err.starts_with("judge.kind: unknown judge \"gpt\""),
            "{err}"
        );
        assert!(err.contains("http, rules"), "{err}");
        let err = check("[gpt]\nmodel = \"m\"\n");
        assert!(err.starts_with("judge.gpt: unknown judge"), "{err}");
        let err = check("[http]\nmodle = \"m\"\n");
        assert!(err.starts_with("judge.http.modle: unknown field"), "{err}");
        assert!(err.contains("endpoint, model"), "{err}");
        let err = check("[http]\nbatch_size = 0\n");
        assert!(err.starts_with("judge.http.batch_size: value 0"), "{err}");
        let err = check("[rules]\ncosine = 0.5\n");
        assert!(
            err.starts_with("judge.rules.cosine: unknown field"),
            "{err}"
        );
        let err = check("kind = 3\n");
        assert!(err.contains("judge.kind: expected a judge's name"), "{err}");
        let err = check("model = \"m\"\n");
        assert!(err.contains("judge.model = \"m\""), "{err}");
    }

    #[test]
    fn explain_lists_every_registered_judge_and_the_http_settings() {
        let fields = JudgeConfig::fields();
        assert_eq!(fields[0].valid(), "one of http, rules");
        let http = fields.iter().find(|f| f.name == "http").unwrap();
        let names: Vec<&str> = http
            .children
            .as_ref()
            .unwrap()
            .iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(names[..2], ["endpoint", "model"]);
        assert!(
            fields.iter().all(|f| f.name != "rules"),
            "rules has no settings"
        );
    }

    #[test]
    fn rules_build_without_any_feature() {
        let judge = JudgeConfig::default().build(stats()).unwrap();
        assert_eq!(judge.name(), "rules");
    }

    #[cfg(not(feature = "http-judge"))]
    #[test]
    fn http_without_the_feature_names_the_field_and_the_feature() {
        let cfg = JudgeConfig {
            kind: "http".into(),
            ..Default::default()
        };
        let err = cfg.validate("judge").unwrap_err().to_string();
        assert!(err.starts_with("judge.kind: "), "{err}");
        assert!(
            err.contains("--features http-judge") && err.contains("rules"),
            "{err}"
        );
        let err = cfg.build(stats()).err().unwrap().to_string();
        assert!(err.contains("--features http-judge"), "{err}");
    }

    #[cfg(feature = "http-judge")]
    #[test]
    fn http_with_the_feature_builds_the_http_judge() {
        let cfg: JudgeConfig = toml::from_str("kind = \"http\"\n").unwrap();
        assert!(cfg.validate("judge").is_ok());
        assert_eq!(cfg.build(stats()).unwrap().name(), "http");
        // Building checks the endpoint, and names it as it is written in experiment files.
        let bad: JudgeConfig =
            toml::from_str("kind = \"http\"\n[http]\nendpoint = \"ftp://x/y\"\n").unwrap();
        let err = bad.build(stats()).err().unwrap().to_string();
        assert!(err.starts_with("judge.http.endpoint"), "{err}");
    }
}
