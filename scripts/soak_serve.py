#!/usr/bin/env python3
"""Soak test of `quill serve` on loopback (standard library only).

Trains a tiny policy with `quill run` (a minute), serves it, and for --minutes sends a mix of
requests from --clients threads: valid ones (the dataset's users, as `quill bench serve` does),
malformed JSON, wrong fields, oversized bodies and slow clients that send half a body and wait.
Half-way it sends SIGTERM: the server must drain (exit 0) and is restarted. At the end it
reports every answer by status, the answers that were not JSON, the requests that failed
without an answer outside the drain window, the server's resident memory over time and the
latency percentiles of valid requests. Exits 1 if any answer was malformed or lost.

    python3 scripts/soak_serve.py [--minutes 5] [--clients 8]
"""

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUILL = ROOT / "target" / "release" / "quill"
CONFIG = """[experiment]
name = "soak"
seed = 5
output_dir = "{out}"
[data]
users = 300
[data.corpus]
articles = 1500
[cleaner]
epochs = 2
train_users = 200
[policy]
preset = "pico"
prompt_budget = 64
[warm_start]
lm_steps = 20
sft_steps = 300
batch_size = 8
eval_users = 2
[sampling]
max_new_tokens = 24
[grpo]
enabled = false
[evaluation]
samples_per_user = 1
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(checkpoint, port, log):
    proc = subprocess.Popen(
        [str(QUILL), "serve", "--checkpoint", str(checkpoint), "--addr", f"127.0.0.1:{port}"],
        stderr=log,
        stdout=log,
    )
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    sys.exit("the server did not come up; see its log")


def rss_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def bodies(rng):
    """A request body and its kind."""
    signals = [
        {"kind": rng.choice(["search", "news_click", "browse"]),
         "text": rng.choice(["storm coast", "Hawks win the opener", "rate decision", "vaccine trial"]),
         "timestamp": 1_600_000_000 + i}
        for i in range(rng.randint(1, 12))
    ]
    kind = rng.choices(["valid", "bad_json", "bad_field", "oversized", "slow"], [70, 8, 10, 4, 8])[0]
    if kind == "valid" or kind == "slow":
        return kind, json.dumps({"signals": signals, "top_k": 3}).encode()
    if kind == "bad_json":
        return kind, b'{"signals": [{"kind": "search", '
    if kind == "bad_field":
        return kind, json.dumps({"signals": [{"kind": "Click!", "text": "x", "timestamp": 1}]}).encode()
    return kind, json.dumps({"signals": [{"kind": "search", "text": "b" * 900, "timestamp": i} for i in range(100)]}).encode()


def client(port_of, stop, results, lock, seed):
    rng = random.Random(seed)
    while not stop.is_set():
        kind, body = bodies(rng)
        port = port_of()
        start = time.time()
        try:
            if kind == "slow":
                # Half the body, then silence: the server answers 408 after its read timeout.
                s = socket.create_connection(("127.0.0.1", port), timeout=30)
                s.sendall(b"POST /v1/interests HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                          + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode() + body[: len(body) // 2])
                reply = s.makefile("rb").read()
                s.close()
                status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else None
                text = reply.split(b"\r\n\r\n", 1)[-1]
            else:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                conn.request("POST", "/v1/interests", body, {"content-type": "application/json"})
                response = conn.getresponse()
                status, text = response.status, response.read()
                conn.close()
            try:
                json.loads(text)
                malformed = False
            except ValueError:
                malformed = True
            with lock:
                results.append((kind, status, malformed, time.time() - start, start))
        except OSError as e:
            with lock:
                results.append((kind, f"error: {type(e).__name__}", False, time.time() - start, start))
            # Refused while the server restarts: wait for it.
            time.sleep(0.2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    work = Path(tempfile.mkdtemp(prefix="quill-soak-"))
    (work / "exp.toml").write_text(CONFIG.format(out=work / "out"))
    env = dict(os.environ, QUILL_QUIET="1")
    subprocess.run([str(QUILL), "run", str(work / "exp.toml")], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = work / "out" / "soak" / "policy"
    log = open(work / "serve.log", "w")
    port = free_port()
    server = start_server(checkpoint, port, log)
    state = {"port": port}
    stop, lock, results = threading.Event(), threading.Lock(), []
    drain_window = []
    threads = [threading.Thread(target=client, args=(lambda: state["port"], stop, results, lock, i))
               for i in range(args.clients)]
    for t in threads:
        t.start()
    memory = []
    end = time.time() + 60 * args.minutes
    half = time.time() + 30 * args.minutes
    exit_code = None
    while time.time() < end:
        memory.append((round(time.time() - (end - 60 * args.minutes)), rss_kib(server.pid)))
        if exit_code is None and time.time() >= half:
            drain_start = time.time()
            server.send_signal(signal.SIGTERM)
            exit_code = server.wait(timeout=120)
            state["port"] = port = free_port()
            server = start_server(checkpoint, port, log)
            drain_window.append((drain_start, time.time()))
            memory.append(("restart", rss_kib(server.pid)))
        time.sleep(5)
    stop.set()
    for t in threads:
        t.join()
    server.send_signal(signal.SIGTERM)
    final_code = server.wait(timeout=120)
    log.close()

    by = {}
    for kind, status, malformed, _, _ in results:
        by.setdefault((kind, status), 0)
        by[(kind, status)] += 1
    malformed = [r for r in results if r[2]]
    in_drain = lambda t: any(a <= t <= b for a, b in drain_window)
    lost = [r for r in results if isinstance(r[1], str) and not in_drain(r[4])]
    latencies = sorted(r[3] for r in results if r[0] == "valid" and r[1] == 200)
    pct = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")
    print(f"soak: {len(results)} requests from {args.clients} clients over {args.minutes} min")
    for (kind, status), n in sorted(by.items(), key=lambda x: str(x)):
        print(f"  {kind:10} {status}: {n}")
    print(f"  valid 200 latency ms: p50 {pct(0.5):.0f}, p95 {pct(0.95):.0f}, p99 {pct(0.99):.0f}")
    print(f"  SIGTERM half-way: exit {exit_code}; final SIGTERM: exit {final_code}")
    print(f"  resident memory (s, KiB): {memory}")
    print(f"  malformed answers: {len(malformed)}; failed without an answer outside the restart: {len(lost)}")
    ok = not malformed and not lost and exit_code == 0 and final_code == 0
    print("soak: " + ("passed" if ok else "FAILED") + f" (logs in {work})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
