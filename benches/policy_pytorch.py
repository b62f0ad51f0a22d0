#!/usr/bin/env python3
"""The PyTorch side of `cargo bench -p quill --bench policy`: the same presets and shapes with
Hugging Face's LlamaForCausalLM in eager mode on the CPU, 2 threads. Needs torch and
transformers (e.g. a throwaway venv); not part of Quill's build or tests.

    python3 benches/policy_pytorch.py nano micro small
"""
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

# (vocab, hidden, layers, heads, kv_heads, mlp) as in framework/src/policy/config.rs
PRESETS = {
    "nano": (512, 64, 2, 4, 2, 192),
    "micro": (1024, 128, 4, 4, 2, 384),
    "small": (4096, 256, 6, 8, 4, 768),
    "base": (8192, 384, 8, 6, 2, 1024),
}


def timed(fn, repeats):
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main():
    torch.set_num_threads(2)
    torch.manual_seed(0)
    for name in sys.argv[1:] or ["nano", "micro"]:
        vocab, hidden, layers, heads, kv, mlp = PRESETS[name]
        cfg = LlamaConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                          num_attention_heads=heads, num_key_value_heads=kv,
                          intermediate_size=mlp, max_position_embeddings=1024,
                          tie_word_embeddings=True, attn_implementation="eager")
        model = LlamaForCausalLM(cfg)
        optim = torch.optim.AdamW(model.parameters(), lr=1e-3)
        batch = torch.randint(0, vocab, (16, 128))

        def train_step():
            loss = model(input_ids=batch, labels=batch).loss
            loss.backward()
            optim.step()
            optim.zero_grad()

        train = timed(train_step, 5)
        model.eval()
        prompts = torch.randint(0, vocab, (128, 16))

        def sample():
            with torch.no_grad():
                model.generate(prompts, do_sample=True, max_new_tokens=64, min_new_tokens=64,
                               pad_token_id=0, use_cache=True)

        gen = timed(sample, 3)
        print(f"{name}: train {16 * 128 / train:,.0f} tokens/s ({train * 1e3:.0f} ms/step), "
              f"sample {128 * 64 / gen:,.0f} tokens/s ({gen:.2f} s for 128 x 64)")


if __name__ == "__main__":
    main()
