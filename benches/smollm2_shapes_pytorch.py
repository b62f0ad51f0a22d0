#!/usr/bin/env python3
"""The PyTorch side of `cargo bench -p quill --bench smollm2_shapes`: the same workloads at
SmolLM2-135M-Instruct's shapes (random init, fp32) with Hugging Face's LlamaForCausalLM in eager
mode on the CPU, 2 threads, and PEFT for the adapters. Needs torch, transformers and peft (a
throwaway venv); not part of Quill's build or tests.

    python3 benches/smollm2_shapes_pytorch.py [train_all,train_lora,train_top4,sample,grpo_step]

Each workload runs QUILL_BENCH_FASTEST (default 3) times after a warm-up; the fastest is
printed, with the peak memory of a fresh child process (`--memory WORKLOAD`), measured as in
the Rust bench.
"""
import os
import subprocess
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from policy_pytorch import status_kib  # this script's directory is on sys.path

WORKLOADS = ["train_all", "train_lora", "train_top4", "sample", "grpo_step"]
TOKENS = {"sample": 32 * 32, "grpo_step": 8 * 4 * 32}


def build(workload):
    cfg = LlamaConfig(vocab_size=49152, hidden_size=576, num_hidden_layers=30,
                      num_attention_heads=9, num_key_value_heads=3, intermediate_size=1536,
                      max_position_embeddings=2048, rope_theta=100000.0, rms_norm_eps=1e-5,
                      tie_word_embeddings=True, attn_implementation="eager")
    model = LlamaForCausalLM(cfg)
    if workload == "train_lora":
        from peft import LoraConfig, get_peft_model
        targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=targets))
    elif workload == "train_top4":
        for p in model.parameters():
            p.requires_grad_(False)
        for p in model.model.layers[-4:].parameters():
            p.requires_grad_(True)
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=1e-5)
    train_batch = torch.randint(0, 49152, (8, 128))
    prompts = torch.randint(0, 49152, (32, 64))
    grpo_prompts = torch.randint(0, 49152, (8, 64)).repeat_interleave(4, dim=0)

    def train():
        model.train()
        loss = model(input_ids=train_batch, labels=train_batch).loss
        loss.backward()
        optim.step()
        optim.zero_grad()

    def sample(p=prompts):
        model.eval()
        with torch.no_grad():
            return model.generate(p, attention_mask=torch.ones_like(p), do_sample=True,
                                  max_new_tokens=32, min_new_tokens=32, pad_token_id=0,
                                  use_cache=True)

    def grpo_step():
        out = sample(grpo_prompts)
        model.train()
        logits = model(input_ids=out).logits[:, 63:-1]
        logp = torch.log_softmax(logits, dim=-1).gather(-1, out[:, 64:, None]).squeeze(-1)
        adv = torch.tensor([1.0, -1.0] * 16)[:, None]
        loss = -(logp * adv).mean()
        loss.backward()
        optim.step()
        optim.zero_grad()

    return {"sample": sample, "grpo_step": grpo_step}.get(workload, train)


def memory_child(workload):
    run = build(workload)
    before = status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    run()
    if workload != "sample":
        run()
    peak = status_kib("VmHWM")
    print(f"{peak / 1024:.0f} MiB peak RSS, {(peak - before) / 1024:.0f} MiB above the "
          f"{before / 1024:.0f} MiB of the model")


def main():
    torch.set_num_threads(int(os.environ.get("QUILL_BENCH_THREADS", "2")))
    torch.manual_seed(0)
    if sys.argv[1:2] == ["--memory"]:
        memory_child(sys.argv[2])
        return
    runs = int(os.environ.get("QUILL_BENCH_FASTEST", "3"))
    chosen = sys.argv[1].split(",") if len(sys.argv) > 1 else WORKLOADS
    for workload in chosen:
        run = build(workload)
        run()  # warm-up
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        best = min(times)
        out = subprocess.run([sys.executable, __file__, "--memory", workload],
                             capture_output=True, text=True)
        mem = out.stdout.strip() if out.returncode == 0 else f"unavailable ({out.stderr.strip()[-200:]})"
        each = " ".join(f"{t:.2f}" for t in times)
        print(f"pytorch {workload}: {TOKENS.get(workload, 8 * 128) / best:.0f} tokens/s "
              f"({best:.2f} s, fastest of {runs}: {each}); {mem}", flush=True)


if __name__ == "__main__":
    main()
