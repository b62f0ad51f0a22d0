//! The prompt of a user and the response the policy writes, as token ids, in one of two
//! layouts: Quill's own (below; a preset's trained tokenizer), or a pretrained checkpoint's
//! chat template ([`crate::text::chat_prompt`]). Both keep the newest signals that fit the
//! budget, so [`PromptBuilder::shown`] means one thing for both.
//!
//! In Quill's layout a prompt is the user's cleaned signals, oldest first and newest last (so
//! the newest sit right before the response, where a decoder attends most easily):
//!
//! ```text
//! <bos><user><search> riverton hawks
//! <news_click> Hawks win the playoff opener
//! <signal> video_watch: Cup final highlights
//! <queries>
//! ```
//!
//! Each signal is its kind token, a space, its text with whitespace runs collapsed to single
//! spaces, and a newline. The space makes a word's first token the same " word" token it is
//! everywhere else in byte-level BPE (in abstracts and in "- query" lines). A dataset-declared
//! kind has no token of its own: `<signal>` then " name:" as text. Signal text is encoded
//! literally, so a search for `<end>` is text, never a forged terminator; a blank signal says
//! nothing and is skipped.
//!
//! The prompt fits a token budget, structure tokens included: whole signals are dropped from
//! the oldest end until the rest fits, so the newest are always kept. Only when the newest
//! signal alone is over the budget is it cut (its first tokens kept, then the newline), so a
//! prompt never loses all of a user's signals.
//!
//! The response is a query list in the shared format (see [`crate::text::query_list`]): "- q"
//! lines, then the stop id (`<end>`, or a checkpoint's end of turn). Generated ids go back
//! through the shared parser the structural-validity reward uses, so "valid" means one thing
//! everywhere (a checkpoint's replies may also number or bullet their lines).

use crate::data::{Signal, SignalKind, UserRecord};
use crate::error::{Error, Result};
use crate::text::chat_prompt::ChatLayout;
use crate::text::query_list::{ItemMarkers, QueryList, QueryListFormat, TERMINATOR, format_faults};
use crate::text::tokenizer::{PolicyTokenizer, SpecialIds};
use std::sync::Arc;

/// `<bos>`, `<user>` and `<queries>`: the tokens every prompt has.
const STRUCTURE_TOKENS: usize = 3;

/// The smallest useful budget: the structure, one kind token, a few text tokens, a newline.
pub const MIN_PROMPT_BUDGET: usize = 8;

/// A prompt and what truncation did to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub ids: Vec<u32>,
    /// Signals rendered (the newest ones).
    pub signals_kept: usize,
    /// Non-blank signals dropped from the oldest end.
    pub signals_dropped: usize,
    /// True when the newest signal alone was over the budget and was cut.
    pub cut: bool,
}

/// How a prompt is laid out around the user's signals.
#[derive(Debug, Clone)]
pub enum PromptLayout {
    /// Quill's own: special tokens mark the structure (a preset's trained tokenizer).
    Quill(SpecialIds),
    /// A pretrained checkpoint's chat template around an instruction and the signals.
    Chat(Arc<ChatLayout>),
}

/// Renders users as prompts and query lists as responses for one tokenizer.
#[derive(Debug, Clone)]
pub struct PromptBuilder {
    pub tokenizer: PolicyTokenizer,
    /// Most tokens in a prompt, its structure (or chat scaffold and instruction) included.
    pub budget: usize,
    /// What a valid response is.
    pub format: QueryListFormat,
    pub layout: PromptLayout,
}

impl PromptBuilder {
    /// Quill's own layout, for a tokenizer with Quill's special tokens.
    pub fn new(
        tokenizer: PolicyTokenizer,
        budget: usize,
        format: QueryListFormat,
    ) -> Result<PromptBuilder> {
        if budget < MIN_PROMPT_BUDGET {
            return Err(Error::field(
                "policy.prompt_budget",
                format!(
                    "prompt budget {budget} is below {MIN_PROMPT_BUDGET} tokens: a prompt needs \
                     <bos> <user> <queries> and room for at least one signal"
                ),
            ));
        }
        let ids = tokenizer.quill_ids().ok_or_else(|| {
            Error::model(
                "prompt",
                "a pretrained checkpoint's tokenizer has no Quill prompt tokens: its prompts \
                 use its chat template (PromptBuilder::chat)",
            )
        })?;
        Ok(PromptBuilder {
            tokenizer,
            budget,
            format,
            layout: PromptLayout::Quill(ids),
        })
    }

    /// A checkpoint's chat layout. The scaffold (template and instruction) must leave room for
    /// signals within `budget`.
    pub fn chat(
        tokenizer: PolicyTokenizer,
        layout: ChatLayout,
        budget: usize,
        format: QueryListFormat,
    ) -> Result<PromptBuilder> {
        let needed = layout.scaffold_len() + MIN_PROMPT_BUDGET;
        if budget < needed {
            return Err(Error::field(
                "policy.prompt_budget",
                format!(
                    "prompt budget {budget} leaves no room for signals: the chat template and \
                     the instruction take {} tokens; valid budgets are at least {needed}",
                    layout.scaffold_len()
                ),
            ));
        }
        Ok(PromptBuilder {
            tokenizer,
            budget,
            format,
            layout: PromptLayout::Chat(Arc::new(layout)),
        })
    }

    /// The prompt ids of a (cleaned) user: only `history` is read.
    pub fn prompt(&self, user: &UserRecord) -> Vec<u32> {
        self.build(&user.history).ids
    }

    /// The prompt of a history in time order (oldest first), with truncation details.
    pub fn build(&self, history: &[Signal]) -> Prompt {
        match &self.layout {
            PromptLayout::Quill(ids) => self.build_quill(ids, history),
            PromptLayout::Chat(chat) => chat.build(&self.tokenizer, self.budget, history),
        }
    }

    fn build_quill(&self, special: &SpecialIds, history: &[Signal]) -> Prompt {
        let t = &self.tokenizer;
        let room = self.budget.saturating_sub(STRUCTURE_TOKENS);
        let rendered: Vec<Vec<u32>> = history
            .iter()
            .filter_map(|s| self.signal_tokens(special, s))
            .collect();
        // Walk from the newest back while whole signals fit.
        let mut used = 0;
        let mut kept = 0;
        for tokens in rendered.iter().rev() {
            if used + tokens.len() > room {
                break;
            }
            used += tokens.len();
            kept += 1;
        }
        let mut ids = Vec::with_capacity(STRUCTURE_TOKENS + used.max(room.min(64)));
        ids.extend([special.bos, special.user]);
        let mut cut = false;
        if kept == 0 && !rendered.is_empty() {
            // The newest signal alone is over the budget: keep its head and its newline.
            let newest = rendered.last().expect("non-empty");
            let newline = t.encode_plain("\n");
            let head = room.saturating_sub(newline.len());
            ids.extend_from_slice(&newest[..head.min(newest.len())]);
            ids.extend(newline);
            kept = 1;
            cut = true;
        } else {
            for tokens in &rendered[rendered.len() - kept..] {
                ids.extend_from_slice(tokens);
            }
        }
        ids.push(special.queries);
        Prompt {
            ids,
            signals_kept: kept,
            signals_dropped: rendered.len() - kept,
            cut,
        }
    }

    /// The part of a history that [`PromptBuilder::build`] renders: from its oldest kept
    /// signal on (blank signals in that span are not rendered, and carry no words). A newest
    /// signal cut to fit counts as shown.
    pub fn shown<'h>(&self, history: &'h [Signal]) -> &'h [Signal] {
        let kept = self.build(history).signals_kept;
        let mut seen = 0;
        let mut start = history.len();
        for (i, signal) in history.iter().enumerate().rev() {
            if seen == kept {
                break;
            }
            if !is_blank(signal) {
                seen += 1;
            }
            start = i;
        }
        &history[start..]
    }

    /// The tokens of one signal line in Quill's layout, or `None` for a blank signal.
    fn signal_tokens(&self, special: &SpecialIds, signal: &Signal) -> Option<Vec<u32>> {
        if is_blank(signal) {
            return None;
        }
        let text = collapse_whitespace(&signal.text);
        let t = &self.tokenizer;
        let mut ids = Vec::new();
        match special.kind(&signal.kind) {
            Some(kind) => {
                ids.push(kind);
                ids.extend(t.encode_plain(&format!(" {text}\n")));
            }
            None => {
                ids.push(special.signal);
                let name = match &signal.kind {
                    SignalKind::Other(name) => name.as_str(),
                    built_in => built_in.as_str(),
                };
                ids.extend(t.encode_plain(&format!(" {name}: {text}\n")));
            }
        }
        Some(ids)
    }

    /// The response ids of a list: its queries as "- q" lines, then the stop id (`<end>`, or
    /// a checkpoint's end of turn). This is the supervised target of the warm start and what a
    /// valid sample looks like.
    pub fn response(&self, list: &QueryList) -> Vec<u32> {
        self.response_of(&list.queries)
    }

    /// The response ids of bare queries (see [`PromptBuilder::response`]).
    pub fn response_of(&self, queries: &[String]) -> Vec<u32> {
        let rendered = QueryList::render(queries);
        let mut lines = rendered.strip_suffix(TERMINATOR).unwrap_or(&rendered);
        if let PromptLayout::Chat(_) = self.layout {
            // An assistant's turn ends right after its text, as chat templates render it.
            lines = lines.strip_suffix('\n').unwrap_or(lines);
        }
        let mut ids = self.tokenizer.encode_plain(lines);
        ids.push(self.tokenizer.end_id());
        ids
    }

    /// The line openings a response's queries may have: Quill's policies write "- " only; an
    /// instruct model's numbered and bulleted lines count too (see [`ItemMarkers`]).
    pub fn markers(&self) -> ItemMarkers {
        match self.layout {
            PromptLayout::Quill(_) => ItemMarkers::Dash,
            PromptLayout::Chat(_) => ItemMarkers::Instruct,
        }
    }

    /// Parses generated ids (those after the prompt) with the shared parser. In Quill's layout
    /// padding is dropped and any other special token is written out as text, so it breaks
    /// the format, as it should; in a chat layout the end of turn is the terminator and
    /// nothing after it is read.
    pub fn parse_response(&self, ids: &[u32]) -> QueryList {
        let (kept, terminated) = self.reply_tokens(ids);
        let tokens: Vec<u32> = kept.iter().map(|&i| ids[i]).collect();
        let text = with_terminator(self.tokenizer.decode(&tokens), terminated.is_some());
        QueryList::parse_with(&text, &self.format, self.markers())
    }

    /// Indices into `ids` of the tokens that wrote a format fault of the response
    /// ([`format_faults`]): the choices unlikelihood fine-tuning pushes down. Sorted, distinct.
    pub fn response_faults(&self, ids: &[u32]) -> Vec<usize> {
        let (mut kept, terminated) = self.reply_tokens(ids);
        let tokens: Vec<u32> = kept.iter().map(|&i| ids[i]).collect();
        let body = self.tokenizer.decode(&tokens);
        let mut starts = self.token_starts(&tokens, &body);
        if let Some(end) = terminated {
            // A chat layout's end of turn wrote the terminator line the text ends with.
            starts.push(body.len());
            kept.push(end);
        }
        let text = with_terminator(body, terminated.is_some());
        let mut out: Vec<usize> = format_faults(&text, &self.format, self.markers())
            .into_iter()
            .filter(|r| r.start < text.len())
            // The token whose text covers the fault's first byte: the last one starting at or
            // before it.
            .map(|r| kept[starts.partition_point(|&s| s <= r.start) - 1])
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The indices of the tokens of `ids` a response's text is decoded from, and, in a chat
    /// layout, where its end of turn is (`None` in Quill's layout, whose `<end>` is decoded as
    /// text, or when the turn never ended).
    fn reply_tokens(&self, ids: &[u32]) -> (Vec<usize>, Option<usize>) {
        let pad = self.tokenizer.pad_id();
        match self.layout {
            PromptLayout::Quill(_) => ((0..ids.len()).filter(|&i| ids[i] != pad).collect(), None),
            PromptLayout::Chat(_) => {
                let end = self.tokenizer.end_id();
                let stop = ids.iter().position(|&i| i == end);
                let body = (0..stop.unwrap_or(ids.len())).filter(|&i| ids[i] != pad);
                (body.collect(), stop)
            }
        }
    }

    /// The byte where each token's text starts in `text`, the decoding of `tokens`.
    fn token_starts(&self, tokens: &[u32], text: &str) -> Vec<usize> {
        // One decode per token, when the pieces add up to the whole (every token decodes to
        // whole characters); otherwise a token splits a character, and the start of token `k`
        // is the length of the decoded prefix before it.
        let pieces: Vec<String> = tokens
            .iter()
            .map(|&t| self.tokenizer.decode(&[t]))
            .collect();
        if pieces.concat() == text {
            let mut at = 0;
            return pieces
                .iter()
                .map(|p| {
                    let s = at;
                    at += p.len();
                    s
                })
                .collect();
        }
        let mut starts: Vec<usize> = (0..tokens.len())
            .map(|k| self.tokenizer.decode(&tokens[..k]).len().min(text.len()))
            .collect();
        for k in 1..starts.len() {
            starts[k] = starts[k].max(starts[k - 1]);
        }
        starts
    }
}

/// The text the parser reads: a chat layout's decoded reply closed by the terminator line
/// when its turn ended (Quill's layout decodes its `<end>` as text and passes `false`).
fn with_terminator(mut text: String, terminated: bool) -> String {
    if terminated {
        text.push('\n');
        text.push_str(TERMINATOR);
    }
    text
}

/// A signal with no text to render (whitespace only): prompts skip it.
pub(crate) fn is_blank(signal: &Signal) -> bool {
    signal.text.trim().is_empty()
}

/// A signal's text with whitespace runs (newlines included) collapsed to single spaces, so it
/// stays on its one line.
pub(crate) fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
#[path = "prompt_tests.rs"]
mod tests;
