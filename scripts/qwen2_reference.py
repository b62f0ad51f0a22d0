#!/usr/bin/env python3
"""Generates the tiny random Qwen2 fixtures that framework/tests/qwen2.rs loads.

Run once with Hugging Face `transformers` and `torch` (the independent implementation):

    python scripts/qwen2_reference.py

It writes, under framework/tests/fixtures/:
  qwen2-tiny/       2 layers, untied lm_head: config.json, model.safetensors, expected_logits.json
  qwen2-tiny-tied/  1 smaller layer, tie_word_embeddings=True (no lm_head.weight in the file)

Weights are N(0, 0.2^2) (initializer_range=0.2) so that the logits are far from zero; the
norm scales and the QKV biases, which Hugging Face initialises to 1 and 0, are perturbed too,
so that a loader that skipped them would fail the comparison. Expected logits are float32,
eager attention, for two fixed token sequences (lengths 7 and 12), rounded to 1e-6.
"""

import json
import os
import shutil

import torch
from transformers import AutoModelForCausalLM, Qwen2Config

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "framework", "tests", "fixtures")
SEQUENCES = [
    [1, 17, 42, 5, 88, 63, 0],
    [95, 3, 3, 60, 12, 77, 41, 8, 29, 50, 71, 2],
]


def build(name, seed, **shape):
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=96,
        max_position_embeddings=128,
        rope_theta=10000.0,
        rms_norm_eps=1e-6,
        initializer_range=0.2,
        **shape,
    )
    model = AutoModelForCausalLM.from_config(
        config, attn_implementation="eager", dtype=torch.float32
    )
    model.eval()
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if "norm" in pname:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif pname.endswith(".bias"):
                p.copy_(0.2 * torch.randn_like(p))
    out = os.path.join(ROOT, name)
    shutil.rmtree(out, ignore_errors=True)
    model.save_pretrained(out, safe_serialization=True)
    gen = os.path.join(out, "generation_config.json")
    if os.path.exists(gen):
        os.remove(gen)
    expected = []
    with torch.no_grad():
        for tokens in SEQUENCES:
            logits = model(torch.tensor([tokens])).logits[0].to(torch.float32)
            expected.append(
                {
                    "tokens": tokens,
                    "logits": [[round(float(x), 6) for x in row] for row in logits],
                }
            )
    with open(os.path.join(out, "expected_logits.json"), "w") as f:
        json.dump(
            {
                "generator": f"transformers {__import__('transformers').__version__}, "
                f"torch {torch.__version__}, float32, eager attention",
                "sequences": expected,
            },
            f,
            separators=(",", ":"),
        )
        f.write("\n")
    peak = max(abs(x) for s in expected for row in s["logits"] for x in row)
    print(f"{name}: max |logit| {peak:.3f}")


build(
    "qwen2-tiny",
    seed=0,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    intermediate_size=64,
    tie_word_embeddings=False,
)
build(
    "qwen2-tiny-tied",
    seed=1,
    hidden_size=16,
    num_hidden_layers=1,
    num_attention_heads=2,
    num_key_value_heads=1,
    intermediate_size=32,
    tie_word_embeddings=True,
)
