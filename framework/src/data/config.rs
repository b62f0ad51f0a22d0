//! The `[data]` section of an experiment: which users, which corpus, how they split.

use super::world::WorldConfig;
use crate::config::Check;
use chrono::NaiveDate;
use std::path::PathBuf;

crate::config_enum! {
    /// Where users come from.
    pub enum DataSource {
        /// The built-in simulator of cross-domain behaviour (needs no files).
        World = "world",
        /// MIND's news.tsv + behaviors.tsv, supplied by the user.
        Mind = "mind",
        /// Quill's JSONL schema for one's own logs (one user per line).
        Jsonl = "jsonl",
    }
}

crate::config_enum! {
    /// The news corpus the simulator draws articles from.
    pub enum CorpusSource {
        /// Built-in procedural corpus: a taxonomy of categories, subtopics and recurring stories.
        Procedural = "procedural",
        /// HuffPost News Category JSONL (`headline`, `short_description`, `category`, `date`, `link`).
        Huffpost = "huffpost",
        /// AG News CSV (`class index, title, description`; no dates, so dates are spread evenly).
        AgNews = "agnews",
        /// Any TSV or JSONL file, with its columns named in `[data.corpus]`.
        Mapped = "mapped",
    }
}

crate::config_section! {
    /// The `[data.corpus]` section.
    pub struct CorpusConfig {
        /// Which corpus the simulator uses.
        pub source: CorpusSource = CorpusSource::Procedural, Check::Any;
        /// Corpus file for huffpost, agnews and mapped (relative paths resolve against the
        /// experiment file's directory).
        pub path: PathBuf = PathBuf::new(), Check::Any;
        /// Articles in the procedural corpus.
        pub articles: u64 = 12_000, Check::Range { min: 100.0, max: 10_000_000.0 };
        /// Read at most this many articles from a corpus file (0 = all).
        pub max_articles: u64 = 0, Check::Range { min: 0.0, max: f64::INFINITY };
        /// mapped: column (TSV header) or key (JSONL) of the article id; empty = line number.
        pub id_field: String = String::new(), Check::Any;
        /// mapped: column or key of the title.
        pub title_field: String = "title".into(), Check::NonEmpty;
        /// mapped: column or key of the abstract (empty = none).
        pub abstract_field: String = "abstract".into(), Check::Any;
        /// mapped: column or key of the category.
        pub category_field: String = "category".into(), Check::NonEmpty;
        /// mapped: column or key of the subcategory (empty = none).
        pub subcategory_field: String = String::new(), Check::Any;
        /// mapped: column or key of the date, YYYY-MM-DD (empty = dates spread evenly).
        pub date_field: String = String::new(), Check::Any;
        /// Real corpora: at most this many interest facets derived per category.
        pub max_facets_per_category: u32 = 24, Check::Range { min: 1.0, max: 1000.0 };
        /// Real corpora: a derived facet needs at least this many articles.
        pub min_facet_articles: u32 = 6, Check::Range { min: 2.0, max: 10_000.0 };
    }
}

crate::config_section! {
    /// The `[data.mind]` section: paths to MIND files and where its held-out clicks begin.
    pub struct MindConfig {
        /// MIND's news.tsv.
        pub news: PathBuf = PathBuf::from("MINDsmall_train/news.tsv"), Check::NonEmpty;
        /// MIND's behaviors.tsv.
        pub behaviors: PathBuf = PathBuf::from("MINDsmall_train/behaviors.tsv"), Check::NonEmpty;
        /// First day of the held-out clicks, "YYYY-MM-DD" (UTC), e.g. "2019-11-09", the first
        /// day of MINDsmall_train's impressions (all held out). Clicks of earlier impressions
        /// join the history; the evaluation window opens on it; the tokenizer, term statistics
        /// and word vectors read only articles first shown before it or never shown. An article
        /// first shown earlier is no candidate, so a later date leaves some held-out clicks
        /// uncatchable. "" = undeclared: no window, and training reads every article.
        pub split_date: String = String::new(), Check::Any;
    }
}

crate::config_section! {
    /// The `[data.jsonl]` section: one's own logs in Quill's JSONL schema.
    pub struct JsonlConfig {
        /// Users file: one JSON object per line (the schema is in docs/data.md).
        pub users: PathBuf = PathBuf::from("users.jsonl"), Check::NonEmpty;
        /// News corpus file: one NewsItem JSON object per line.
        pub news: PathBuf = PathBuf::from("news.jsonl"), Check::NonEmpty;
        /// First day of the held-out clicks, "YYYY-MM-DD" (UTC): every history signal must be
        /// earlier; the evaluation window opens on it (a click on older news is no candidate);
        /// the tokenizer, term statistics and word vectors read only news dated before it.
        /// "" = undeclared: no window, and training reads every article.
        pub split_date: String = String::new(), Check::Any;
    }
}

impl MindConfig {
    /// The declared split date; a malformed one is an error naming the field.
    pub fn split_date(&self) -> crate::Result<Option<NaiveDate>> {
        parse_split_date("data.mind.split_date", &self.split_date)
    }
}

impl JsonlConfig {
    /// The declared split date; a malformed one is an error naming the field.
    pub fn split_date(&self) -> crate::Result<Option<NaiveDate>> {
        parse_split_date("data.jsonl.split_date", &self.split_date)
    }
}

/// `""` → `None`, `"YYYY-MM-DD"` → the date, anything else an error quoting it.
fn parse_split_date(field: &str, text: &str) -> crate::Result<Option<NaiveDate>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| {
            crate::Error::field(
                field,
                format!(
                    "{text:?} is not a date: expected \"YYYY-MM-DD\" (e.g. \"2019-11-09\"), or \"\" \
                     when the log declares no split"
                ),
            )
        })
}

crate::config_section! {
    /// The `[data]` section of an experiment.
    pub struct DataConfig {
        /// Where users come from.
        pub source: DataSource = DataSource::World, Check::Any;
        /// world: users to simulate. mind/jsonl: read at most this many (0 = all).
        pub users: u64 = 3_000, Check::Range { min: 0.0, max: 100_000_000.0 };
        /// Share of users in the train split (by a hash of the user id).
        pub train_fraction: f64 = 0.8, Check::Range { min: 0.0, max: 1.0 };
        /// Share of users in the valid split; the test split takes the rest.
        pub valid_fraction: f64 = 0.1, Check::Range { min: 0.0, max: 1.0 };
        /// The simulator.
        pub world: WorldConfig = WorldConfig::default(), Check::Any;
        /// The simulator's news corpus.
        pub corpus: CorpusConfig = CorpusConfig::default(), Check::Any;
        /// MIND files.
        pub mind: MindConfig = MindConfig::default(), Check::Any;
        /// Own-log files.
        pub jsonl: JsonlConfig = JsonlConfig::default(), Check::Any;
    }
}

impl DataConfig {
    /// The files the selected source reads, each with its field's path: what `quill validate`
    /// checks exists before anything runs.
    pub fn input_files(&self) -> Vec<(&'static str, &std::path::Path)> {
        match self.source {
            DataSource::Mind => vec![
                ("data.mind.news", &self.mind.news),
                ("data.mind.behaviors", &self.mind.behaviors),
            ],
            DataSource::Jsonl => vec![
                ("data.jsonl.users", &self.jsonl.users),
                ("data.jsonl.news", &self.jsonl.news),
            ],
            DataSource::World => match self.corpus.source {
                CorpusSource::Procedural => Vec::new(),
                _ => vec![("data.corpus.path", &self.corpus.path)],
            },
        }
    }

    /// Checks what single-field ranges cannot: declared split dates must parse, and the split
    /// fractions must leave room for test.
    pub fn check_consistency(&self) -> crate::Result<()> {
        self.mind.split_date()?;
        self.jsonl.split_date()?;
        if self.train_fraction + self.valid_fraction > 1.0 {
            return Err(crate::Error::field(
                "data.valid_fraction",
                format!(
                    "train_fraction + valid_fraction = {} exceeds 1: the test split would be empty",
                    self.train_fraction + self.valid_fraction
                ),
            ));
        }
        Ok(())
    }

    pub fn splits(&self) -> super::SplitFractions {
        super::SplitFractions {
            train: self.train_fraction,
            valid: self.valid_fraction,
        }
    }
}
