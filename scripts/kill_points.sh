#!/usr/bin/env bash
# Crash consistency of `quill run`: a small experiment (every stage: cleaner, warm start,
# GRPO, distillation, evaluation, report) and a two-cell sweep run with `--jobs 2` are killed
# with SIGKILL at seeded random moments, then rerun with `--resume` to the end. Each must give
# the uninterrupted run's report (results.csv, the wall-clock users/s column aside) and its
# metrics.json evaluation sections exactly. Prints one line per kill point and a summary;
# exits 1 if any differs.
#
#   scripts/kill_points.sh [KILLS] [SEED]     # default 10 kills of each, seed 1
#
# Uses target/release/quill (built first). Takes about 10 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
KILLS="${1:-10}"
SEED="${2:-1}"
export QUILL_QUIET=1
cargo build --release --quiet
QUILL="$PWD/target/release/quill"
WORK="$(mktemp -d /tmp/quill-kill-points.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

# The experiment: small enough for half a minute, every stage present, checkpoints every step,
# and trained enough that its lists are valid (a run of zeros would match anything).
config() { # $1 output dir, $2 extra TOML
  cat <<EOF
[experiment]
name = "kill"
seed = 7
output_dir = "$1"
[data]
users = 300
[data.corpus]
articles = 1500
[cleaner]
epochs = 1
train_users = 200
[policy]
preset = "pico"
prompt_budget = 64
[warm_start]
lm_steps = 60
sft_steps = 300
batch_size = 8
eval_users = 8
[sampling]
max_new_tokens = 24
[grpo]
steps = 10
prompts_per_step = 4
group_size = 4
save_every = 1
eval_every = 5
eval_users = 8
[distill]
enabled = true
steps = 6
prompts_per_step = 4
samples_per_prompt = 2
save_every = 1
eval_every = 3
student_sft_steps = 200
[evaluation]
samples_per_user = 2
$2
EOF
}
SWEEP=$'[sweep.s]\naxes.grpo.learning_rate = [1e-3, 3e-4]'

# Runs to the end (resuming when asked); returns the seconds it took.
run() { # $1 config file, $2.. extra flags
  local start=$SECONDS
  "$QUILL" run "$1" "${@:2}" >>"$WORK/log.txt" 2>&1
  echo $((SECONDS - start))
}

# The figures two runs must share: results.csv without users/s, metrics' evaluation sections.
figures() { # $1 experiment dir
  python3 - "$1" <<'EOF'
import csv, json, pathlib, sys
out = pathlib.Path(sys.argv[1])
rows = []
for path in sorted(out.rglob("report/results.csv")):
    with open(path) as f:
        for row in csv.DictReader(f):
            row.pop("users_per_s", None)
            rows.append(row)
evals = {}
for path in sorted(out.rglob("metrics.json")):
    m = json.loads(path.read_text())
    evals[str(path.relative_to(out))] = {k: m.get(k) for k in ("valid", "test")}
    for stage in ("grpo", "distill"):
        if isinstance(m.get(stage), dict):
            evals[f"{path.relative_to(out)}:{stage}"] = m[stage].get("valid_evals")
print(json.dumps({"results": rows, "evaluations": evals}, sort_keys=True))
EOF
}

check() { # $1 name, $2 extra TOML, $3.. flags
  local name="$1" extra="$2"
  shift 2
  config "$WORK/$name-ref" "$extra" >"$WORK/$name-ref.toml"
  local total
  total=$(run "$WORK/$name-ref.toml" "$@")
  figures "$WORK/$name-ref/kill" >"$WORK/$name-ref.json"
  echo "$name: uninterrupted run ${total}s"
  local delays
  delays=$(python3 -c "import random; r = random.Random($SEED); print(' '.join(f'{r.uniform(1, $total):.1f}' for _ in range($KILLS)))")
  local i=0
  for delay in $delays; do
    i=$((i + 1))
    local dir="$WORK/$name-$i"
    config "$dir" "$extra" >"$dir.toml"
    "$QUILL" run "$dir.toml" "$@" >>"$WORK/log.txt" 2>&1 &
    local pid=$!
    sleep "$delay"
    # The sweep's cells run as child processes: kill the whole group.
    pkill -KILL -P "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    run "$dir.toml" --resume "$@" >/dev/null
    figures "$dir/kill" >"$dir.json"
    if cmp -s "$WORK/$name-ref.json" "$dir.json"; then
      echo "$name kill $i at ${delay}s: identical"
      IDENTICAL=$((IDENTICAL + 1))
    else
      echo "$name kill $i at ${delay}s: DIFFERS (see $dir.json)"
      trap - EXIT
    fi
    TOTAL=$((TOTAL + 1))
  done
}

IDENTICAL=0
TOTAL=0
check run ""
check sweep "$SWEEP" --jobs 2
echo "kill points: $IDENTICAL of $TOTAL identical to the uninterrupted runs"
[ "$IDENTICAL" -eq "$TOTAL" ]
