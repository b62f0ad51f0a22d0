//! The prompt of a pretrained instruct checkpoint: its own chat template, rendered with a
//! system instruction (what to write, in which format) and one user message that lists the
//! user's signals, oldest first:
//!
//! ```text
//! <|im_start|>system
//! You suggest news search queries ... one query per line, each starting with "- " ...<|im_end|>
//! <|im_start|>user
//! Recent activity, oldest first:
//! search: riverton hawks
//! news click: Hawks win the playoff opener
//! video_watch: Cup final highlights<|im_end|>
//! <|im_start|>assistant
//! ```
//!
//! The budget counts every token of the rendered prompt. Whole signals are dropped from the
//! oldest end until the prompt fits (the newest signal alone over the budget is cut), as in
//! Quill's own layout, so rewards see what the prompt shows either way. Signal text is encoded
//! literally: a search for `<|im_end|>` stays text and cannot close the turn.

use crate::data::{Signal, SignalKind};
use crate::error::{Error, Result};
use crate::policy::{ChatMessage, ChatTemplate};
use crate::text::prompt::{Prompt, collapse_whitespace, is_blank};
use crate::text::query_list::QueryListFormat;
use crate::text::tokenizer::PolicyTokenizer;

/// The system instruction when `[policy] instruction` is not set. `{min_queries}` and
/// `{max_queries}` are replaced by the `[format]` bounds.
pub const DEFAULT_INSTRUCTION: &str = "You write news search queries for a reader. From the \
reader's recent searches, news clicks and visited pages, write {min_queries} to {max_queries} \
short news search queries, each naming one specific interest of the reader (a person, team, \
place, company, product, event or topic) in the reader's own words. Write one query per line, \
each line starting with \"- \", and nothing else.";

/// The line before the signals in the user message.
const HEADER: &str = "Recent activity, oldest first:\n";

/// Stands for the signals while the template renders, so that the text around them is encoded
/// with the template's special tokens and the signals themselves literally.
const SLOT: &str = "\u{1}QUILL_SIGNALS\u{1}";

/// A chat template with its instruction, split around the user message's signals.
#[derive(Debug, Clone)]
pub struct ChatLayout {
    /// The instruction as sent (placeholders filled in).
    pub instruction: String,
    /// The rendered prompt's ids before the signals (system turn, user header) ...
    before: Vec<u32>,
    /// ... and after them (end of the user turn, the assistant's header).
    after: Vec<u32>,
}

impl ChatLayout {
    /// Renders `template` around `instruction` (with `{min_queries}` / `{max_queries}` from
    /// `format`) once, to find the ids every prompt shares.
    pub fn new(
        template: &ChatTemplate,
        instruction: &str,
        format: &QueryListFormat,
        tokenizer: &PolicyTokenizer,
    ) -> Result<ChatLayout> {
        let instruction = filled_instruction(instruction, format);
        let user = format!("{HEADER}{SLOT}");
        let messages = [ChatMessage::system(&instruction), ChatMessage::user(&user)];
        let rendered = template.render(&messages, true)?;
        let (before, after) = rendered.split_once(SLOT).ok_or_else(|| {
            Error::model(
                "chat template",
                "the rendered prompt does not contain the user message as given (the template \
                 drops or rewrites it), so the signals have no place",
            )
        })?;
        Ok(ChatLayout {
            instruction,
            before: tokenizer.encode(before),
            after: tokenizer.encode(after),
        })
    }

    /// Tokens every prompt has: the template's scaffold, the instruction and the header.
    pub fn scaffold_len(&self) -> usize {
        self.before.len() + self.after.len()
    }

    /// The prompt of `history` (oldest first) within `budget` tokens.
    pub(crate) fn build(
        &self,
        tokenizer: &PolicyTokenizer,
        budget: usize,
        history: &[Signal],
    ) -> Prompt {
        let lines: Vec<String> = history
            .iter()
            .filter(|s| !is_blank(s))
            .map(signal_line)
            .collect();
        let room = budget.saturating_sub(self.scaffold_len());
        // Whole lines from the newest back while their separate encodings fit; the joined
        // text is then encoded at once (as the model reads it) and checked again, since
        // tokens may merge across a line break.
        let mut kept = 0;
        let mut used = 0;
        for line in lines.iter().rev() {
            let n = tokenizer.encode_plain(line).len();
            if used + n > room {
                break;
            }
            used += n;
            kept += 1;
        }
        while kept > 0 {
            let signals = tokenizer.encode_plain(lines[lines.len() - kept..].concat().trim_end());
            if signals.len() <= room {
                return self.prompt(signals, kept, lines.len() - kept, false);
            }
            kept -= 1;
        }
        match lines.last() {
            // The newest signal alone is over the budget: keep its head.
            Some(newest) => {
                let mut ids = tokenizer.encode_plain(newest.trim_end());
                ids.truncate(room);
                self.prompt(ids, 1, lines.len() - 1, true)
            }
            None => self.prompt(Vec::new(), 0, 0, false),
        }
    }

    fn prompt(&self, signals: Vec<u32>, kept: usize, dropped: usize, cut: bool) -> Prompt {
        let mut ids = Vec::with_capacity(self.scaffold_len() + signals.len());
        ids.extend_from_slice(&self.before);
        ids.extend(signals);
        ids.extend_from_slice(&self.after);
        Prompt {
            ids,
            signals_kept: kept,
            signals_dropped: dropped,
            cut,
        }
    }
}

/// `instruction` as sent: `{min_queries}` and `{max_queries}` replaced by `format`'s bounds.
pub fn filled_instruction(instruction: &str, format: &QueryListFormat) -> String {
    instruction
        .replace("{min_queries}", &format.min_queries.to_string())
        .replace("{max_queries}", &format.max_queries.to_string())
}

/// One signal as a line of the user message: its kind in words, a colon, its text.
fn signal_line(signal: &Signal) -> String {
    let kind = match &signal.kind {
        SignalKind::Search => "search",
        SignalKind::NewsClick => "news click",
        SignalKind::Browse => "browse",
        SignalKind::Other(name) => name.as_str(),
    };
    format!("{kind}: {}\n", collapse_whitespace(&signal.text))
}
