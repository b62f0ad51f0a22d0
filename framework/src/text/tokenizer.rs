//! The policy's tokenizer: byte-level BPE trained on Quill's own text with the `tokenizers`
//! crate, plus the special tokens that give a prompt and a response their structure.
//!
//! Byte-level, so every UTF-8 string round-trips exactly (typos, emoji, any script) and no
//! input is ever "unknown". The special tokens are added tokens that the BPE can never produce
//! from ordinary text, so a structural position (start of the signals, start of the response,
//! end of the list) is always one unambiguous id:
//!
//! | token | id | role |
//! |---|---|---|
//! | `<pad>` | 0 | batch padding, never a target |
//! | `<bos>` | 1 | start of a sequence |
//! | `<user>` | 2 | start of the user's signals |
//! | `<search>`, `<news_click>`, `<browse>` | 3-5 | one per built-in [`SignalKind`] |
//! | `<signal>` | 6 | a dataset-declared kind, followed by its name as text |
//! | `<queries>` | 7 | start of the response |
//! | `<end>` | 8 | the query-list terminator ([`TERMINATOR`]): sampling stops on it |
//!
//! Training is deterministic: the same texts in the same order give byte-identical JSON
//! (the BPE trainer breaks count ties by token id, and ids follow a sorted alphabet).

use crate::bounded_read::{JSON_BYTES, read_bounded};
use crate::data::{Corpus, SignalKind, UserRecord};
use crate::error::{Error, Result};
use crate::text::query_list::{QueryList, TERMINATOR};
use std::path::Path;
use std::sync::Arc;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BPE, BpeTrainer};
use tokenizers::models::{ModelWrapper, TrainerWrapper};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, AddedVocabulary, Tokenizer};

pub const PAD: &str = "<pad>";
pub const BOS: &str = "<bos>";
pub const USER: &str = "<user>";
pub const SEARCH: &str = "<search>";
pub const NEWS_CLICK: &str = "<news_click>";
pub const BROWSE: &str = "<browse>";
/// Marks a signal of a dataset-declared kind; the kind's name follows as ordinary text.
pub const SIGNAL: &str = "<signal>";
pub const QUERIES: &str = "<queries>";

/// Every special token, in id order (a trained tokenizer gives them ids 0..9).
pub const SPECIAL_TOKENS: [&str; 9] = [
    PAD, BOS, USER, SEARCH, NEWS_CLICK, BROWSE, SIGNAL, QUERIES, TERMINATOR,
];

/// The 256 byte symbols of byte-level BPE plus the special tokens: the smallest vocabulary.
pub const MIN_VOCAB_SIZE: usize = 256 + SPECIAL_TOKENS.len();

/// A probe that a loaded file must encode and decode exactly: multi-byte UTF-8, newlines and
/// the list format. A tokenizer that fails it is not byte-level (or not Quill's).
const ROUND_TRIP_PROBE: &str = "- Zürich café 東京 🚀\n- x\t'y'\n";

/// Ids of the special tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialIds {
    pub pad: u32,
    pub bos: u32,
    pub user: u32,
    pub search: u32,
    pub news_click: u32,
    pub browse: u32,
    pub signal: u32,
    pub queries: u32,
    pub end: u32,
}

/// A policy's tokenizer: Quill's own (a trained byte-level BPE with Quill's special tokens,
/// which its prompt layout is written in) or a pretrained checkpoint's (its own vocabulary and
/// special tokens, prompts rendered by its chat template). Cheap to clone.
#[derive(Debug, Clone)]
pub struct PolicyTokenizer {
    /// Recognises special-token strings anywhere in the input.
    full: Arc<Tokenizer>,
    /// The same BPE without added tokens: encodes user text literally, so a search for
    /// `<end>` cannot forge a terminator inside a prompt.
    plain: Arc<Tokenizer>,
    /// Batch padding (never a target).
    pad: u32,
    /// The stop token of sampling: Quill's `<end>`, a checkpoint's end of turn.
    end: u32,
    /// Every added special token's id, sorted.
    specials: Arc<Vec<u32>>,
    /// Quill's prompt tokens; `None` for a pretrained checkpoint's tokenizer.
    quill: Option<SpecialIds>,
}

impl PolicyTokenizer {
    /// Trains a tokenizer of (at most) `vocab_size` tokens, special tokens and the 256 byte
    /// symbols included, on `texts` in order. The vocabulary ends smaller when the texts run
    /// out of pairs seen at least twice. Special-token strings inside `texts` are ordinary text
    /// to the trainer (they are added only after training).
    pub fn train<I, S>(texts: I, vocab_size: usize) -> Result<PolicyTokenizer>
    where
        I: IntoIterator<Item = S>,
        I::IntoIter: Send,
        S: AsRef<str> + Send,
    {
        if vocab_size < MIN_VOCAB_SIZE {
            return Err(Error::model(
                "tokenizer",
                format!(
                    "vocab_size {vocab_size} is too small: byte-level BPE needs at least \
                     {MIN_VOCAB_SIZE} (256 byte symbols + {} special tokens)",
                    SPECIAL_TOKENS.len()
                ),
            ));
        }
        let tokenizer = train_byte_level_bpe(texts, vocab_size, &SPECIAL_TOKENS)?;
        Self::from_tokenizer(tokenizer).map_err(|m| Error::model("tokenizer", m))
    }

    /// Checks a tokenizer has every special token as a single special id and round-trips text.
    fn from_tokenizer(full: Tokenizer) -> std::result::Result<PolicyTokenizer, String> {
        let added = full.get_added_tokens_decoder();
        let id = |token: &str| -> std::result::Result<u32, String> {
            let id = full.token_to_id(token).ok_or_else(|| {
                format!(
                    "missing special token {token}; a Quill policy tokenizer has {}",
                    SPECIAL_TOKENS.join(" ")
                )
            })?;
            match added.get(&id) {
                Some(t) if t.special && t.content == token => Ok(id),
                _ => Err(format!(
                    "{token} (id {id}) is not an added special token, so text could split it"
                )),
            }
        };
        let ids = SpecialIds {
            pad: id(PAD)?,
            bos: id(BOS)?,
            user: id(USER)?,
            search: id(SEARCH)?,
            news_click: id(NEWS_CLICK)?,
            browse: id(BROWSE)?,
            signal: id(SIGNAL)?,
            queries: id(QUERIES)?,
            end: id(TERMINATOR)?,
        };
        let mut tokenizer = Self::wrap(full, ids.pad, ids.end);
        tokenizer.quill = Some(ids);
        let probe = tokenizer.decode(&tokenizer.encode(ROUND_TRIP_PROBE));
        if probe != ROUND_TRIP_PROBE {
            return Err(format!(
                "not a byte-level tokenizer: {ROUND_TRIP_PROBE:?} decodes back as {probe:?}"
            ));
        }
        Ok(tokenizer)
    }

    /// A pretrained checkpoint's tokenizer, with `end` (its end-of-turn token) as the stop token
    /// and `pad` (its padding token, or `end` when it has none) as padding.
    pub fn pretrained(full: Tokenizer, end: u32, pad: Option<u32>) -> PolicyTokenizer {
        Self::wrap(full, pad.unwrap_or(end), end)
    }

    fn wrap(full: Tokenizer, pad: u32, end: u32) -> PolicyTokenizer {
        let mut specials: Vec<u32> = full
            .get_added_tokens_decoder()
            .iter()
            .filter(|(_, t)| t.special)
            .map(|(id, _)| *id)
            .chain([pad, end])
            .collect();
        specials.sort_unstable();
        specials.dedup();
        let mut plain = full.clone();
        plain.with_added_vocabulary(AddedVocabulary::new());
        PolicyTokenizer {
            full: Arc::new(full),
            plain: Arc::new(plain),
            pad,
            end,
            specials: Arc::new(specials),
            quill: None,
        }
    }

    /// The tokenizer as `tokenizers` JSON (the format `load` reads; deterministic).
    pub fn to_json(&self) -> Result<String> {
        self.full
            .to_string(false)
            .map_err(|e| Error::model("tokenizer", format!("cannot serialise: {e}")))
    }

    /// Writes the tokenizer JSON atomically (a killed run never leaves half a file).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::write_atomic(path, self.to_json()?.as_bytes())
    }

    /// Reads a tokenizer saved by `save`. A file that is not tokenizer JSON, or a tokenizer
    /// without Quill's special tokens, is an error naming the file.
    pub fn load(path: &Path) -> Result<PolicyTokenizer> {
        let bytes = read_bounded(path, JSON_BYTES, "a tokenizer file")?;
        let origin = path.display().to_string();
        let full = Tokenizer::from_bytes(&bytes)
            .map_err(|e| Error::model(&origin, format!("not a tokenizers JSON file: {e}")))?;
        Self::from_tokenizer(full)
            .map_err(|m| Error::model(&origin, format!("not a Quill policy tokenizer: {m}")))
    }

    /// Token ids of `text`. Special-token strings in it become their special ids; nothing is
    /// added at the ends.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        encode_with(&self.full, text)
    }

    /// Token ids of `text` read literally: special-token strings in it are ordinary text.
    /// Prompts encode users' signals this way.
    pub fn encode_plain(&self, text: &str) -> Vec<u32> {
        encode_with(&self.plain, text)
    }

    /// The text of `ids`, special tokens written out (`<end>` decodes as the text `<end>`). Ids outside
    /// the vocabulary are skipped; a cut multi-byte character becomes U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> String {
        // The byte-level decoder has no failure path; an error could only come from a
        // foreign decoder, which `load` rejects through the round-trip probe.
        self.full.decode(ids, false).unwrap_or_default()
    }

    /// Number of token ids, special tokens included (ids are `0..vocab_size()`).
    pub fn vocab_size(&self) -> usize {
        self.full.get_vocab_size(true)
    }

    /// Quill's prompt tokens; `None` for a pretrained checkpoint's tokenizer, whose prompts
    /// its chat template lays out.
    pub fn quill_ids(&self) -> Option<SpecialIds> {
        self.quill
    }
    pub fn pad_id(&self) -> u32 {
        self.pad
    }
    /// The stop token of sampling: `<end>` for Quill's tokenizer, the end of the assistant's
    /// turn for a checkpoint's.
    pub fn end_id(&self) -> u32 {
        self.end
    }

    /// True for the id of any special token.
    pub fn is_special(&self, id: u32) -> bool {
        self.specials.binary_search(&id).is_ok()
    }
}

impl SpecialIds {
    /// The kind token of a built-in kind; `None` for a dataset-declared kind, which renders
    /// as `<signal>` and its name.
    pub fn kind(&self, kind: &SignalKind) -> Option<u32> {
        match kind {
            SignalKind::Search => Some(self.search),
            SignalKind::NewsClick => Some(self.news_click),
            SignalKind::Browse => Some(self.browse),
            SignalKind::Other(_) => None,
        }
    }
}

/// Trains a byte-level BPE of (at most) `vocab_size` tokens on `texts` in order, with
/// `specials` as added special tokens (ids `0..specials.len()`). Deterministic: the same texts
/// give byte-identical JSON.
pub fn train_byte_level_bpe<I, S>(
    texts: I,
    vocab_size: usize,
    specials: &[&str],
) -> Result<Tokenizer>
where
    I: IntoIterator<Item = S>,
    I::IntoIter: Send,
    S: AsRef<str> + Send,
{
    let specials = specials
        .iter()
        .map(|t| AddedToken::from(*t, true))
        .collect();
    let trainer = BpeTrainer::builder()
        .vocab_size(vocab_size)
        // A pair seen once is memorisation, not a unit of the language.
        .min_frequency(2)
        .show_progress(false)
        .special_tokens(specials)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build();
    let mut tokenizer = Tokenizer::new(ModelWrapper::BPE(BPE::default()));
    // No prefix space: a signal's text is rendered after its own space, and an added
    // space would change the text on decode.
    tokenizer.with_pre_tokenizer(Some(ByteLevel::new(false, false, true)));
    tokenizer.with_decoder(Some(ByteLevelDecoder::new(false, false, true)));
    let mut trainer = TrainerWrapper::BpeTrainer(trainer);
    tokenizer
        .train(&mut trainer, texts.into_iter())
        .map_err(|e| Error::model("tokenizer", format!("BPE training failed: {e}")))?;
    Ok(tokenizer)
}

fn encode_with(tokenizer: &Tokenizer, text: &str) -> Vec<u32> {
    // Byte-level BPE covers every byte, so encoding cannot fail on any input; an error could
    // only come from a broken foreign file, which `load` rejects through the probe.
    tokenizer
        .encode_fast(text, false)
        .map(|e| e.get_ids().to_vec())
        .unwrap_or_default()
}

/// The texts the policy tokenizer and its language modelling are trained on, in a fixed order:
/// the title and abstract of every article published before the corpus's split date (the
/// held-out clicks are drawn from the later ones, so their headlines stay unseen), every signal
/// text of `users` (the cleaned training users), and the rendered query lists `lists` (so "- ",
/// newlines and query words get tokens of their own).
pub fn training_texts<'a>(
    corpus: &'a Corpus,
    users: &'a [UserRecord],
    lists: &'a [Vec<String>],
) -> impl Iterator<Item = String> + Send + 'a {
    let articles = corpus.pre_split_items().map(|n| n.text());
    let signals = users
        .iter()
        .flat_map(|u| u.history.iter().map(|s| s.text.clone()));
    let rendered = lists.iter().map(|l| QueryList::render(l));
    articles.chain(signals).chain(rendered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_texts() -> Vec<String> {
        let mut texts = Vec::new();
        for i in 0..40 {
            texts.push(format!(
                "Riverton Hawks win playoff game {i} as Maria Okafor scores twice"
            ));
            texts.push(format!(
                "Zephyr Air unveils earnings amid bond yields questions {i}"
            ));
            texts.push(QueryList::render(&[
                "riverton hawks playoff".to_string(),
                format!("maria okafor transfer {i}"),
                "zephyr air earnings".to_string(),
            ]));
        }
        texts.push("Zürich café 東京 naïve résumé 🚀".to_string());
        texts
    }

    fn tokenizer() -> PolicyTokenizer {
        PolicyTokenizer::train(sample_texts(), 512).expect("trains")
    }

    fn temp_path(name: &str) -> std::path::PathBuf {
        std::env::temp_dir()
            .join(format!("quill-tokenizer-{}", std::process::id()))
            .join(name)
    }

    #[test]
    fn text_round_trips_exactly() {
        let t = tokenizer();
        for text in [
            "Riverton Hawks win the playoff",
            "  leading and trailing spaces \t\n",
            "Zürich café 東京 naïve 🚀 مرحبا Ελληνικά",
            "- riverton hawks playoff\n- maria okafor\n<end>",
            "",
            "words never seen in training: xylophone quokka",
        ] {
            assert_eq!(t.decode(&t.encode(text)), text, "{text:?}");
            assert_eq!(t.decode(&t.encode_plain(text)), text, "{text:?}");
        }
    }

    #[test]
    fn special_tokens_are_single_ids_even_inside_text() {
        let t = tokenizer();
        let s = t.quill_ids().expect("Quill's own tokenizer");
        assert_eq!(
            (
                s.pad,
                s.bos,
                s.user,
                s.search,
                s.news_click,
                s.browse,
                s.signal,
                s.queries,
                s.end
            ),
            (0, 1, 2, 3, 4, 5, 6, 7, 8)
        );
        for (i, token) in SPECIAL_TOKENS.iter().enumerate() {
            assert_eq!(t.encode(token), vec![i as u32], "{token}");
        }
        let ids = t.encode("- hawks\n<end>");
        assert_eq!(ids.last(), Some(&t.end_id()));
        assert_eq!(ids.iter().filter(|&&i| i == t.end_id()).count(), 1);
        // Read literally, the same string never yields a special id.
        let plain = t.encode_plain("- hawks\n<end><queries>");
        assert!(plain.iter().all(|&i| !t.is_special(i)), "{plain:?}");
        assert_eq!(t.decode(&[s.bos, s.queries]), "<bos><queries>");
        assert!((0..9).all(|i| t.is_special(i)) && !t.is_special(9));
    }

    #[test]
    fn frequent_words_become_single_tokens_and_the_vocabulary_is_bounded() {
        let t = tokenizer();
        assert!(t.vocab_size() <= 512 && t.vocab_size() > MIN_VOCAB_SIZE);
        // Words seen 40 times or more are merged into one token each, with the space that
        // precedes them inside a text and without it at the start of one.
        assert_eq!(t.encode(" Hawks").len(), 1);
        assert_eq!(t.encode("Riverton").len(), 1);
        assert!(t.encode("xylophone").len() > 3);
    }

    #[test]
    fn training_is_deterministic() {
        let a = tokenizer().to_json().unwrap();
        let b = tokenizer().to_json().unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn a_vocabulary_below_the_byte_alphabet_is_an_error() {
        let err = PolicyTokenizer::train(sample_texts(), 200).unwrap_err();
        assert!(err.to_string().contains("265"), "{err}");
    }

    #[test]
    fn save_then_load_encodes_identically() {
        let t = tokenizer();
        let path = temp_path("saved.json");
        t.save(&path).unwrap();
        let loaded = PolicyTokenizer::load(&path).unwrap();
        assert_eq!(loaded.quill_ids(), t.quill_ids());
        assert_eq!(loaded.vocab_size(), t.vocab_size());
        for text in sample_texts() {
            assert_eq!(loaded.encode(&text), t.encode(&text));
            assert_eq!(loaded.encode_plain(&text), t.encode_plain(&text));
        }
        assert_eq!(loaded.to_json().unwrap(), t.to_json().unwrap());
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn loading_a_corrupt_or_foreign_file_names_the_file() {
        let corrupt = temp_path("corrupt.json");
        crate::io::write_atomic(&corrupt, b"{\"version\": \"1.0\", \"model\": ").unwrap();
        let err = PolicyTokenizer::load(&corrupt).unwrap_err().to_string();
        assert!(
            err.contains("corrupt.json") && err.contains("not a tokenizers JSON"),
            "{err}"
        );

        // A well-formed byte-level BPE tokenizer that lacks Quill's special tokens.
        let mut foreign = Tokenizer::new(ModelWrapper::BPE(BPE::default()));
        foreign.with_pre_tokenizer(Some(ByteLevel::new(false, false, true)));
        let mut trainer = TrainerWrapper::BpeTrainer(
            BpeTrainer::builder()
                .show_progress(false)
                .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
                .build(),
        );
        foreign
            .train(&mut trainer, sample_texts().into_iter())
            .unwrap();
        let path = temp_path("foreign.json");
        crate::io::write_atomic(&path, foreign.to_string(false).unwrap().as_bytes()).unwrap();
        let err = PolicyTokenizer::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("foreign.json") && err.contains("missing special token <pad>"),
            "{err}"
        );

        let missing = temp_path("absent.json");
        let err = PolicyTokenizer::load(&missing).unwrap_err().to_string();
        assert!(err.contains("absent.json"), "{err}");
        let _ = std::fs::remove_file(&corrupt);
        let _ = std::fs::remove_file(&path);
    }
}
