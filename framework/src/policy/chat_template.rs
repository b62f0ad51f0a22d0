//! A model's chat template: the Jinja source it ships (`chat_template` of a Hugging Face
//! `tokenizer_config.json`, `tokenizer.chat_template` of a GGUF file), rendered with minijinja
//! the way `transformers`' `apply_chat_template` renders it with Jinja2.
//!
//! Like `transformers`, the template is compiled with `trim_blocks` and `lstrip_blocks`, gets
//! `messages` (each a `role` and a `content`), `add_generation_prompt`, the tokenizer's
//! `bos_token` / `eos_token` when it has them, and `tools = none` (Quill passes no tools), and may
//! call `raise_exception(message)`, which becomes an error carrying that message. Templates that
//! call Python string methods (`.strip()`, `.split()`, ...) fail to render with an error: the
//! ones Quill serves (SmolLM2's, Qwen2.5's) call none, so `minijinja-contrib`'s `pycompat` is
//! not used. Nor are `transformers`' `strftime_now`, `{% generation %}` and loop controls
//! (`{% break %}`) provided.

use crate::error::{Error, Result};
use minijinja::value::Value;
use minijinja::{Environment, ErrorKind, syntax::SyntaxConfig};
use std::collections::BTreeMap;

/// One chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatMessage<'a> {
    pub role: &'a str,
    pub content: &'a str,
}

impl<'a> ChatMessage<'a> {
    pub fn system(content: &'a str) -> Self {
        ChatMessage {
            role: "system",
            content,
        }
    }
    pub fn user(content: &'a str) -> Self {
        ChatMessage {
            role: "user",
            content,
        }
    }
    pub fn assistant(content: &'a str) -> Self {
        ChatMessage {
            role: "assistant",
            content,
        }
    }
}

/// The name the template is stored under in its environment (minijinja's errors cite it).
const NAME: &str = "chat_template";

/// A compiled Jinja chat template with the special tokens it is rendered with.
#[derive(Debug, Clone)]
pub struct ChatTemplate {
    /// Where the template came from, for errors (`tokenizer_config.json: chat_template`, ...).
    origin: String,
    env: Environment<'static>,
    bos_token: Option<String>,
    eos_token: Option<String>,
}

impl ChatTemplate {
    /// Compiles `template` (Jinja source); `origin` names it in errors, `bos_token` and
    /// `eos_token` are the texts of the tokenizer's special tokens, when it has them (a template
    /// sees an absent one as undefined, as in `transformers`). A syntax error is an error naming
    /// `origin` and minijinja's message.
    pub fn from_template(
        origin: impl Into<String>,
        template: &str,
        bos_token: Option<&str>,
        eos_token: Option<&str>,
    ) -> Result<ChatTemplate> {
        let origin = origin.into();
        let mut env = Environment::new();
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| Error::model(&origin, format!("chat template syntax: {}", message(&e))))?;
        env.set_syntax(syntax);
        env.add_function("raise_exception", raise_exception);
        env.add_template_owned(NAME, template.to_string())
            .map_err(|e| {
                let msg = format!("the chat template does not compile: {}", message(&e));
                Error::model(&origin, msg)
            })?;
        Ok(ChatTemplate {
            origin,
            env,
            bos_token: bos_token.map(str::to_string),
            eos_token: eos_token.map(str::to_string),
        })
    }

    /// [`Self::from_template`] with the texts `tokenizer` gives its BOS and EOS ids, as both
    /// GGUF and Hugging Face tokenizers pass them to their templates.
    pub fn for_tokenizer(
        origin: impl Into<String>,
        template: &str,
        tokenizer: &tokenizers::Tokenizer,
        bos_id: Option<u32>,
        eos_id: Option<u32>,
    ) -> Result<ChatTemplate> {
        let token = |id: Option<u32>| id.and_then(|id| tokenizer.id_to_token(id));
        let (bos, eos) = (token(bos_id), token(eos_id));
        Self::from_template(origin, template, bos.as_deref(), eos.as_deref())
    }

    /// The prompt text of `messages`; with `add_generation_prompt`, the template appends the
    /// assistant's header so the model writes the reply next. A template that raises or fails
    /// (an unknown filter, a Python method, ...) is an error naming the template and the cause.
    pub fn render(&self, messages: &[ChatMessage], add_generation_prompt: bool) -> Result<String> {
        let messages: Vec<Value> = messages
            .iter()
            .map(|m| {
                let fields = BTreeMap::from([
                    ("role", Value::from(m.role)),
                    ("content", Value::from(m.content)),
                ]);
                Value::from(fields)
            })
            .collect();
        let mut ctx = BTreeMap::from([
            ("messages", Value::from(messages)),
            ("add_generation_prompt", Value::from(add_generation_prompt)),
            ("tools", Value::from(())),
        ]);
        if let Some(bos) = &self.bos_token {
            ctx.insert("bos_token", Value::from(bos.as_str()));
        }
        if let Some(eos) = &self.eos_token {
            ctx.insert("eos_token", Value::from(eos.as_str()));
        }
        let template = self.env.get_template(NAME);
        template
            .and_then(|t| t.render(Value::from(ctx)))
            .map_err(|e| {
                let msg = format!("rendering the chat template: {}", message(&e));
                Error::model(&self.origin, msg)
            })
    }
}

/// `raise_exception(message)` of Hugging Face templates: fails the render with `message`.
fn raise_exception(message: String) -> std::result::Result<Value, minijinja::Error> {
    let msg = format!("the template raised an exception: {message}");
    Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
}

/// A minijinja error followed by its causes, if it has any.
fn message(e: &minijinja::Error) -> String {
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        msg.push_str(": ");
        msg.push_str(&cause.to_string());
        source = cause.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SmolLM2-135M-Instruct's template, as its GGUF file and `tokenizer_config.json` store it
    /// (`framework/tests/smollm2.rs` renders the one read from the file).
    const SMOLLM2: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    /// Qwen2.5-Instruct's template (the same for every size, 0.5B to 72B), verbatim: llama.cpp's
    /// copy of Qwen/Qwen2.5-7B-Instruct's `chat_template`
    /// (`tests/chat/templates/Qwen-Qwen2.5-7B-Instruct.jinja`).
    const QWEN25: &str = r##"{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"##;

    fn compile(template: &str) -> ChatTemplate {
        ChatTemplate::from_template("test template", template, None, Some("<|im_end|>")).unwrap()
    }

    #[test]
    fn smollm2_inserts_its_default_system_message_unless_one_is_given() {
        let chat = compile(SMOLLM2);
        let system = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by \
                      Hugging Face<|im_end|>\n";
        let user = "<|im_start|>user\nHi?<|im_end|>\n";
        let header = "<|im_start|>assistant\n";
        let text = chat.render(&[ChatMessage::user("Hi?")], true).unwrap();
        assert_eq!(text, format!("{system}{user}{header}"));
        let text = chat.render(&[ChatMessage::user("Hi?")], false).unwrap();
        assert_eq!(text, format!("{system}{user}"));
        let messages = [ChatMessage::system("Be brief."), ChatMessage::user("x")];
        assert_eq!(
            chat.render(&messages, false).unwrap(),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nx<|im_end|>\n"
        );
    }

    /// Expected strings derived by reading the template: with no tools, the `else` branch writes
    /// the system turn (the given one or the default), the loop skips a first system message and
    /// writes user turns and tool-call-free assistant turns as `<|im_start|>{role}\n{content}
    /// <|im_end|>\n`, and the generation prompt is `<|im_start|>assistant\n`. Every `{%-`/`{{-`
    /// strips the indentation and newlines between tags, `trim_blocks` the final newline.
    #[test]
    fn qwen25_tool_aware_template_renders_conversations() {
        let chat = compile(QWEN25);
        let default_system = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are \
                              a helpful assistant.<|im_end|>\n";
        assert_eq!(
            chat.render(&[ChatMessage::user("Hi")], true).unwrap(),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful \
             assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
        assert_eq!(
            chat.render(&[ChatMessage::user("Hi")], false).unwrap(),
            format!("{default_system}<|im_start|>user\nHi<|im_end|>\n")
        );

        let messages = [
            ChatMessage::system("List news search queries."),
            ChatMessage::user("Hawks playoff"),
        ];
        assert_eq!(
            chat.render(&messages, true).unwrap(),
            "<|im_start|>system\nList news search queries.<|im_end|>\n<|im_start|>user\nHawks \
             playoff<|im_end|>\n<|im_start|>assistant\n"
        );

        let messages = [
            ChatMessage::user("Who won?"),
            ChatMessage::assistant("The Hawks."),
            ChatMessage::user("By how much?"),
        ];
        assert_eq!(
            chat.render(&messages, true).unwrap(),
            format!(
                "{default_system}<|im_start|>user\nWho won?<|im_end|>\n<|im_start|>assistant\nThe \
                 Hawks.<|im_end|>\n<|im_start|>user\nBy how much?<|im_end|>\n<|im_start|>assistant\n"
            )
        );

        // Consecutive tool results share one user turn (`loop.index0` looks at the neighbours).
        let messages = [
            ChatMessage::user("Scores?"),
            ChatMessage::assistant("Looking them up."),
            ChatMessage {
                role: "tool",
                content: "Hawks 3",
            },
            ChatMessage {
                role: "tool",
                content: "Owls 1",
            },
        ];
        assert_eq!(
            chat.render(&messages, false).unwrap(),
            format!(
                "{default_system}<|im_start|>user\nScores?<|im_end|>\n<|im_start|>assistant\n\
                 Looking them up.<|im_end|>\n<|im_start|>user\n<tool_response>\nHawks 3\n\
                 </tool_response>\n<tool_response>\nOwls 1\n</tool_response><|im_end|>\n"
            )
        );

        // A system message later in the conversation is an ordinary turn after the default one.
        let messages = [ChatMessage::user("a"), ChatMessage::system("b")];
        assert_eq!(
            chat.render(&messages, false).unwrap(),
            format!(
                "{default_system}<|im_start|>user\na<|im_end|>\n<|im_start|>system\nb<|im_end|>\n"
            )
        );
    }

    #[test]
    fn special_tokens_are_defined_only_when_the_tokenizer_has_them() {
        let template = "{% if bos_token is defined %}{{ bos_token }}{% endif %}\
                        {% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}";
        let chat = ChatTemplate::from_template("t", template, Some("<s>"), Some("</s>")).unwrap();
        assert_eq!(
            chat.render(&[ChatMessage::user("x")], false).unwrap(),
            "<s>x</s>"
        );
        let chat = ChatTemplate::from_template("t", template, None, Some("</s>")).unwrap();
        assert_eq!(
            chat.render(&[ChatMessage::user("x")], false).unwrap(),
            "x</s>"
        );
    }

    #[test]
    fn bad_templates_are_errors_naming_the_template_and_the_cause() {
        let err = ChatTemplate::from_template("my.gguf", "{% for m in messages %}x", None, None)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("my.gguf: the chat template does not compile: syntax error"));
        // The unclosed `{% for %}`, and where minijinja noticed it.
        assert!(
            err.ends_with("unexpected end of input, expected end of block (in chat_template:1)"),
            "{err}"
        );

        // The Llama 2 / Mistral style check that roles alternate.
        let template = "{% for message in messages %}{% if (message['role'] == 'user') != \
                        (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must \
                        alternate user/assistant/user/assistant/...') }}{% endif %}\
                        {{ message['content'] }}{% endfor %}";
        let chat =
            ChatTemplate::from_template("tokenizer_config.json", template, None, None).unwrap();
        let ok = [ChatMessage::user("a"), ChatMessage::assistant("b")];
        assert_eq!(chat.render(&ok, false).unwrap(), "ab");
        let err = chat
            .render(&[ChatMessage::assistant("b")], false)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("tokenizer_config.json: rendering the chat template: "));
        let raised = "the template raised an exception: Conversation roles must alternate \
                      user/assistant/user/assistant/...";
        assert!(err.contains(raised), "{err}");

        let chat = compile("{{ messages[0].content.strip() }}");
        let err = chat.render(&[ChatMessage::user(" x ")], false).unwrap_err();
        assert!(err.to_string().contains("unknown method"), "{err}");
    }
}
