#!/usr/bin/env bash
# Loads a report's index.html in headless Chromium and checks that every image rendered.
# Usage: scripts/check_report_in_chromium.sh reports/quickstart
# A copy of the page gets a script that, once the page has loaded, records in the DOM how many
# images decoded with a size and which did not; Chromium prints the DOM after loading.
set -euo pipefail
report="${1:?usage: $0 REPORT_DIR}"
[ -f "$report/index.html" ] || { echo "no $report/index.html"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$report"/. "$work"/
check='<script>window.addEventListener("load", function () {
  var bad = [], imgs = document.images;
  for (var i = 0; i < imgs.length; i++) {
    if (!imgs[i].complete || imgs[i].naturalWidth === 0) bad.push(imgs[i].getAttribute("src"));
  }
  document.body.setAttribute("data-check", bad.length ? "broken " + bad.join(" ") : "ok " + imgs.length);
});</script>'
python3 - "$work/index.html" "$check" <<'PY'
import sys
path, script = sys.argv[1], sys.argv[2]
page = open(path, encoding="utf-8").read()
open(path, "w", encoding="utf-8").write(page.replace("</body>", script + "\n</body>"))
PY
# Headless Chromium itself sometimes crashes (one CI check died with SIGSEGV, status 139, on a
# report that then loaded three times in a row), so a crashed browser gets two more tries; a
# page that loads but fails the check fails at once.
dom=""
for attempt in 1 2 3; do
  status=0
  dom=$(chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$work/profile-$attempt" \
    --virtual-time-budget=10000 --dump-dom "file://$work/index.html" 2>/dev/null) || status=$?
  [ "$status" -eq 0 ] && break
  echo "chromium exited with status $status (attempt $attempt of 3)"
done
result=$(grep -o 'data-check="[^"]*"' <<<"$dom" || true)
echo "chromium: ${result:-no result}"
[[ "$result" == 'data-check="ok '* ]]
