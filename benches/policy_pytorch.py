#!/usr/bin/env python3
"""The PyTorch side of `cargo bench -p quill --bench policy`: the same presets and shapes with
Hugging Face's LlamaForCausalLM in eager mode on the CPU, 2 threads. Needs torch and
transformers (e.g. a throwaway venv); not part of Quill's build or tests.

    python3 benches/policy_pytorch.py nano micro small

`QUILL_BENCH_DEVICE=cuda` runs on the GPU instead (the side-by-side for `QUILL_BENCH_DEVICE=wgpu`
of policy.rs; peak memory is then torch.cuda.max_memory_allocated, not the process's RSS).

Each workload runs QUILL_BENCH_FASTEST (default 5) times after a warm-up (sampling half as
often, at least 3); the mean and the fastest are printed.

Peak memory is measured as in benches/policy.rs, for the same reason: in a fresh child process
per preset and workload (this script run with `--memory PRESET WORKLOAD`), which builds the
model, writes 5 to /proc/self/clear_refs to reset the peak RSS, runs two training steps or one
sampling call, and reads VmHWM from /proc/self/status (Linux only).
"""
import os
import subprocess
import sys
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

# (vocab, hidden, layers, heads, kv_heads, mlp) as in framework/src/policy/config.rs
DEVICE = os.environ.get("QUILL_BENCH_DEVICE", "cpu")

PRESETS = {
    "nano": (512, 64, 2, 4, 2, 192),
    "micro": (1024, 128, 4, 4, 2, 384),
    "small": (4096, 256, 6, 8, 4, 768),
    "base": (8192, 384, 8, 6, 2, 1024),
}


def timed(fn, repeats):
    """Mean and fastest wall time and least CPU time (all threads) of `repeats` calls. On a
    machine shared with other jobs the fastest is the least disturbed estimate, and CPU time
    is not inflated by waiting for a core (compare with QUILL_BENCH_FASTEST in policy.rs)."""
    fn()  # warm-up
    walls, cpus = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        if DEVICE == "cuda":
            torch.cuda.synchronize()  # the GPU runs asynchronously: wait for the work timed
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    return sum(walls) / repeats, min(walls), min(cpus)


def build(name):
    """The model, a training step and a sampling call for preset `name`."""
    vocab, hidden, layers, heads, kv, mlp = PRESETS[name]
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers,
                      num_attention_heads=heads, num_key_value_heads=kv,
                      intermediate_size=mlp, max_position_embeddings=1024,
                      tie_word_embeddings=True, attn_implementation="eager")
    model = LlamaForCausalLM(cfg).to(DEVICE)
    optim = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batch = torch.randint(0, vocab, (16, 128), device=DEVICE)
    prompts = torch.randint(0, vocab, (128, 16), device=DEVICE)

    def train_step():
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optim.step()
        optim.zero_grad()

    def sample():
        with torch.no_grad():
            model.generate(prompts, do_sample=True, max_new_tokens=64, min_new_tokens=64,
                           pad_token_id=0, use_cache=True)

    return model, train_step, sample


def status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_child(name, workload):
    model, train_step, sample = build(name)
    if workload == "sample":
        model.eval()
    before = status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    if workload == "sample":
        sample()
    else:
        train_step()
        train_step()
    peak = status_kib("VmHWM")
    print(f"{peak / 1024:.0f} MiB peak RSS, {(peak - before) / 1024:.0f} MiB above the "
          f"{before / 1024:.0f} MiB before the {workload} workload")


def report_memory(name, workload):
    out = subprocess.run([sys.executable, __file__, "--memory", name, workload],
                         capture_output=True, text=True)
    line = out.stdout.strip() if out.returncode == 0 else f"unavailable ({out.stderr.strip()})"
    print(f"{name}/{workload} peak memory: {line}")


def main():
    # QUILL_BENCH_THREADS=1 pairs with RAYON_NUM_THREADS=1 for the Rust side.
    torch.set_num_threads(int(os.environ.get("QUILL_BENCH_THREADS", "2")))
    torch.manual_seed(0)
    if sys.argv[1:2] == ["--memory"]:
        memory_child(sys.argv[2], sys.argv[3])
        return
    repeats = int(os.environ.get("QUILL_BENCH_FASTEST", "5"))
    for name in sys.argv[1:] or ["nano", "micro"]:
        model, train_step, sample = build(name)
        train, train_min, train_cpu = timed(train_step, repeats)
        model.eval()
        gen, gen_min, gen_cpu = timed(sample, max(3, repeats // 2))
        print(f"{name}: train {16 * 128 / train:,.0f} tokens/s ({train * 1e3:.0f} ms/step), "
              f"sample {128 * 64 / gen:,.0f} tokens/s ({gen:.2f} s for 128 x 64); fastest: "
              f"train {16 * 128 / train_min:,.0f} tokens/s, sample {128 * 64 / gen_min:,.0f} "
              f"tokens/s; per CPU-second: train {16 * 128 / train_cpu:,.0f}, sample "
              f"{128 * 64 / gen_cpu:,.0f} tokens", flush=True)
        if DEVICE == "cuda":
            print(f"{name} device memory: {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB peak "
                  "allocated (train and sample)")
            torch.cuda.reset_peak_memory_stats()
            continue
        for workload in ["train", "sample"]:
            report_memory(name, workload)


if __name__ == "__main__":
    main()
