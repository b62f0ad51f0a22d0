#!/usr/bin/env python3
"""Generates the tiny Llama + PEFT LoRA fixture that framework/tests/lora.rs loads.

Run once with Hugging Face `transformers`, `peft` and `torch` (the independent implementation):

    python scripts/peft_reference.py

It writes framework/tests/fixtures/llama-tiny-lora/:
  config.json, model.safetensors   a random 2-block Llama (untied lm_head), as transformers saves it
  adapter/                          a PEFT LoRA adapter as `PeftModel.save_pretrained` writes it:
                                    rank 4, alpha 8, all seven projections, block 1 only
  expected_logits.json              the logits of base + adapter (PeftModel) and of
                                    `merge_and_unload()`, for two fixed token sequences

With `--check DIR` it instead checks what Quill wrote (framework/tests/lora.rs leaves it in a
temporary directory): PEFT loads DIR/adapter onto DIR/base, and its logits must match those of
transformers on DIR/merged (Quill's export with the adapter merged) to 1e-4.

Weights are N(0, 0.2^2) so that logits are far from zero; the adapter is created with
`init_lora_weights=False`, so both of its matrices are random and it changes the logits (PEFT's
default zero B would leave them as they are). Logits are float32, eager attention, rounded to
1e-6.
"""

import json
import os
import shutil

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, LlamaConfig

ROOT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "framework", "tests", "fixtures", "llama-tiny-lora"
)
SEQUENCES = [
    [1, 17, 42, 5, 88, 63, 0],
    [95, 3, 3, 60, 12, 77, 41, 8, 29, 50, 71, 2],
]


def logits_of(model):
    out = []
    with torch.no_grad():
        for tokens in SEQUENCES:
            logits = model(torch.tensor([tokens])).logits[0]
            out.append({"tokens": tokens, "logits": [[round(v, 6) for v in row] for row in logits.tolist()]})
    return out


def main():
    torch.manual_seed(7)
    config = LlamaConfig(
        vocab_size=96,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        rope_theta=10000.0,
        rms_norm_eps=1e-6,
        initializer_range=0.2,
        tie_word_embeddings=False,
        attn_implementation="eager",
    )
    base = AutoModelForCausalLM.from_config(config, torch_dtype=torch.float32).eval()
    with torch.no_grad():
        for name, p in base.named_parameters():
            if name.endswith("norm.weight"):
                p.add_(0.1 * torch.randn_like(p))
    if os.path.exists(ROOT):
        shutil.rmtree(ROOT)
    base.save_pretrained(ROOT, safe_serialization=True)
    lora = LoraConfig(
        r=4,
        lora_alpha=8,
        lora_dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        layers_to_transform=[1],
        bias="none",
        task_type="CAUSAL_LM",
        init_lora_weights=False,
    )
    model = get_peft_model(base, lora).eval()
    model.save_pretrained(os.path.join(ROOT, "adapter"))
    adapted = logits_of(model)
    merged = logits_of(model.merge_and_unload())
    with open(os.path.join(ROOT, "expected_logits.json"), "w") as f:
        json.dump({"adapted": adapted, "merged": merged}, f)
    # save_pretrained also writes a README.md model card and generation_config.json; the tests
    # read neither.
    for extra in ["adapter/README.md", "generation_config.json"]:
        path = os.path.join(ROOT, extra)
        if os.path.exists(path):
            os.remove(path)


def check(root):
    from peft import PeftModel

    base = AutoModelForCausalLM.from_pretrained(os.path.join(root, "base"), attn_implementation="eager")
    adapted = PeftModel.from_pretrained(base.eval(), os.path.join(root, "adapter")).eval()
    merged = AutoModelForCausalLM.from_pretrained(os.path.join(root, "merged"), attn_implementation="eager").eval()
    vocab = base.config.vocab_size
    worst = 0.0
    with torch.no_grad():
        for tokens in SEQUENCES:
            t = torch.tensor([[x % vocab for x in tokens]])
            worst = max(worst, (adapted(t).logits - merged(t).logits).abs().max().item())
    print(f"PEFT base + Quill adapter vs Quill's merged export: max logit difference {worst:.2e}")
    assert worst < 1e-4


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
    else:
        main()
