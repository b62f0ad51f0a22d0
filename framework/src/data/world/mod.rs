//! The user simulator ("world"): a news corpus with interest facets, and users with latent
//! interests who search, click and browse across domains, with noise, cold starts and drift.
//!
//! See `users.rs` for how one user is generated and `facets.rs` for what an interest is.

mod facets;
mod noise;
mod phrasing;
mod procedural;
pub mod taxonomy;
mod users;

pub use facets::{DeriveSettings, Facet, FacetSet, derive_facets, split_by_date, split_date};
pub use noise::NoiseType;

use crate::config::Check;
use crate::data::{Corpus, CorpusSource, DataConfig, NewsItem, UserRecord, UserSource};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

crate::config_section! {
    /// The `[data.world]` section: how simulated users behave.
    pub struct WorldConfig {
        /// Days of history before the split date.
        pub history_days: u32 = 30, Check::Range { min: 1.0, max: 3650.0 };
        /// Share of the corpus's newest articles that only future clicks use.
        pub future_article_share: f64 = 0.15, Check::Range { min: 0.01, max: 0.9 };
        /// Mean history length of a non-cold user (log-normal activity, sigma 0.6).
        pub mean_events: f64 = 24.0, Check::Range { min: 4.0, max: 10_000.0 };
        /// Longest history.
        pub max_events: u32 = 150, Check::Range { min: 4.0, max: 100_000.0 };
        /// Share of cold users, who have 1-3 events.
        pub cold_user_share: f64 = 0.1, Check::Range { min: 0.0, max: 1.0 };
        /// Fewest latent interests per user.
        pub min_interests: u32 = 2, Check::Range { min: 1.0, max: 50.0 };
        /// Most latent interests per user.
        pub max_interests: u32 = 5, Check::Range { min: 1.0, max: 50.0 };
        /// Chance that a further interest stays in a category the user already has.
        pub same_category_bias: f64 = 0.5, Check::Range { min: 0.0, max: 1.0 };
        /// Mean share of noise records; each user's own rate is uniform in [0, 2 x this].
        pub noise_rate: f64 = 0.15, Check::Range { min: 0.0, max: 0.45 };
        /// Share of noise that is an accidental click on a real headline (undetectable per record).
        pub off_interest_noise_share: f64 = 0.15, Check::Range { min: 0.0, max: 1.0 };
        /// Share of interest events that are news clicks.
        pub news_click_share: f64 = 0.45, Check::Range { min: 0.0, max: 1.0 };
        /// Share of interest events that are web searches; browsing takes the rest.
        pub search_share: f64 = 0.35, Check::Range { min: 0.0, max: 1.0 };
        /// Chance that a search query has a typo.
        pub typo_rate: f64 = 0.15, Check::Range { min: 0.0, max: 1.0 };
        /// Mean number of held-out future clicks (1 + Poisson).
        pub future_clicks_mean: f64 = 4.0, Check::Range { min: 1.0, max: 100.0 };
        /// Chance that a future click drifts to a facet the user never showed.
        pub drift: f64 = 0.1, Check::Range { min: 0.0, max: 1.0 };
        /// Unclicked impression candidates per future click (0 = no candidates).
        pub impression_negatives: u32 = 4, Check::Range { min: 0.0, max: 1000.0 };
    }
}

impl WorldConfig {
    /// Checks across fields.
    pub fn check_consistency(&self) -> Result<()> {
        if self.min_interests > self.max_interests {
            return Err(Error::field(
                "data.world.min_interests",
                format!(
                    "min_interests {} exceeds max_interests {}",
                    self.min_interests, self.max_interests
                ),
            ));
        }
        if self.news_click_share + self.search_share > 1.0 {
            return Err(Error::field(
                "data.world.search_share",
                format!(
                    "news_click_share + search_share = {} exceeds 1 (browsing takes the rest)",
                    self.news_click_share + self.search_share
                ),
            ));
        }
        Ok(())
    }
}

/// A built world: corpus, facets and everything needed to generate any user on demand.
pub struct World {
    pub config: WorldConfig,
    pub seed: u64,
    pub num_users: usize,
    pub corpus: Arc<Corpus>,
    pub facets: FacetSet,
    /// Facets with articles on both sides of the split.
    pub eligible: Vec<usize>,
    pub eligible_by_category: HashMap<String, Vec<usize>>,
    /// Facet popularity (its article count), used when users pick interests.
    pub popularity: Vec<f64>,
    /// Every article on or after the split date.
    pub future_articles: Vec<u32>,
    /// Every article before the split date, by publication time (ties by corpus index): what
    /// a history click, accidental ones included, can land on.
    pub past_articles: Vec<u32>,
    /// The split date: history before, future clicks on or after.
    pub split_date: chrono::NaiveDate,
    pub split_timestamp: i64,
}

impl World {
    /// Builds the world of a `[data]` config: loads or generates the corpus, derives facets and
    /// fixes the split date. Relative corpus paths resolve against `base_dir`.
    pub fn build(data: &DataConfig, seed: u64, base_dir: &Path) -> Result<World> {
        data.world.check_consistency()?;
        let (corpus, mut facets) = match data.corpus.source {
            CorpusSource::Procedural => procedural::generate(data.corpus.articles as usize, seed),
            _ => {
                let corpus = crate::data::loaders::load_corpus(&data.corpus, base_dir)?;
                let settings = DeriveSettings {
                    max_facets_per_category: data.corpus.max_facets_per_category as usize,
                    min_facet_articles: data.corpus.min_facet_articles as usize,
                    articles_per_facet: 40,
                };
                let facets = derive_facets(&corpus, settings);
                (label_subcategories(corpus, &facets), facets)
            }
        };
        if corpus.len() < 10 {
            return Err(Error::field(
                "data.corpus",
                format!(
                    "the corpus has {} articles; the simulator needs at least 10",
                    corpus.len()
                ),
            ));
        }
        Self::from_parts(
            data.world.clone(),
            seed,
            data.users as usize,
            corpus,
            &mut facets,
        )
    }

    /// Builds a world from a corpus and its facets (all articles in `past`).
    pub fn from_parts(
        config: WorldConfig,
        seed: u64,
        num_users: usize,
        corpus: Corpus,
        facets: &mut [Facet],
    ) -> Result<World> {
        let split = split_date(&corpus, config.future_article_share);
        split_by_date(facets, &corpus, split);
        let facets = FacetSet::new(facets.to_vec());
        let eligible = facets.eligible();
        if eligible.is_empty() {
            return Err(Error::field(
                "data.world.future_article_share",
                format!(
                    "no interest facet has articles both before and after the split date {split}; \
                         the corpus dates are too narrow for future_article_share = {}",
                    config.future_article_share
                ),
            ));
        }
        let mut eligible_by_category: HashMap<String, Vec<usize>> = HashMap::new();
        for &f in &eligible {
            eligible_by_category
                .entry(facets.facets[f].category.clone())
                .or_default()
                .push(f);
        }
        let popularity = facets
            .facets
            .iter()
            .map(|f| (f.past.len() + f.future.len()) as f64)
            .collect();
        let mut future_articles: Vec<u32> = facets
            .facets
            .iter()
            .flat_map(|f| f.future.iter().copied())
            .collect();
        future_articles.sort_unstable();
        let mut past_articles: Vec<u32> = (0..corpus.len() as u32)
            .filter(|&i| corpus.item(i).date < split)
            .collect();
        past_articles.sort_by_key(|&i| (corpus.item(i).date, i));
        let split_timestamp = split
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp();
        Ok(World {
            config,
            seed,
            num_users,
            corpus: Arc::new(corpus.with_split_date(Some(split))),
            facets,
            eligible,
            eligible_by_category,
            popularity,
            future_articles,
            past_articles,
            split_date: split,
            split_timestamp,
        })
    }
}

/// When the simulator publishes an article: 06:00 UTC on its date (corpora give dates only).
/// A simulated click on an article never comes before it.
pub fn publication_time(item: &NewsItem) -> i64 {
    let morning = chrono::NaiveTime::from_hms_opt(6, 0, 0).unwrap_or_default();
    item.date.and_time(morning).and_utc().timestamp()
}

/// The URL a simulated click on `item` records: the article's own, else one built from its id,
/// so every simulated news click names the article it refers to.
pub fn article_url(item: &NewsItem) -> String {
    item.url
        .clone()
        .unwrap_or_else(|| format!("https://news.example/{}", item.id))
}

/// Fills empty subcategories of a real corpus with the derived facet's head term, so reports
/// and rewards can see the finer topic.
fn label_subcategories(corpus: Corpus, facets: &[Facet]) -> Corpus {
    let mut items: Vec<NewsItem> = corpus.items().to_vec();
    for f in facets {
        let head = f.id.rsplit('/').next().unwrap_or("general").to_string();
        for &i in &f.past {
            let item = &mut items[i as usize];
            if item.subcategory.is_empty() {
                item.subcategory = head.clone();
            }
        }
    }
    Corpus::new(items).expect("ids were unique before")
}

impl UserSource for World {
    fn num_users(&self) -> usize {
        self.num_users
    }
    fn user(&self, index: usize) -> UserRecord {
        users::generate(self, index)
    }
}
