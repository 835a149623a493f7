#!/usr/bin/env bash
# The docs site at 5,000 models: `docs generate`'s time and the page's size,
# then the time headless Chromium takes from navigation to a drawn, usable
# graph (the page's own `performance.now()` when it is ready), three times.
# Usage: bench/docs_load.sh [models]   (needs Chromium: apt-get install chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata/target}"
models="${1:-5000}"
# STRATA=path/to/strata uses that binary (the page's load time does not depend on it).
strata="${STRATA:-}"
if [ -z "$strata" ]; then
  cargo build --release --quiet
  strata="$CARGO_TARGET_DIR/release/strata"
fi
project="bench/generated/p$models"
[ -d "$project" ] || python3 bench/generate_project.py "$models" "$project"
python3 bench/measure.py --runs 3 --cwd "$project" --label "docs generate ($models models)" -- "$strata" docs generate --date 2026-11-20
page="$PWD/$project/target/docs/index.html"
echo "{\"label\": \"docs page size\", \"mb\": $(python3 -c "import os; print(round(os.path.getsize('$page') / 1e6, 1))")}"
chromium="${STRATA_CHROMIUM:-chromium}"
for run in 1 2 3; do
  profile="$(mktemp -d)"
  "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$profile" --window-size=1400,900 \
    --enable-logging=stderr --v=0 --dump-dom "file://$page#timing" 2>&1 >/dev/null | grep -o 'strata docs ready in [0-9]* ms for [0-9]* nodes' || true
  rm -rf "$profile"
done
