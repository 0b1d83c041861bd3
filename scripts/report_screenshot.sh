#!/usr/bin/env bash
# Render a comparison report (one self-contained HTML file) to a PNG with headless
# Chromium, e.g. for the docs:  scripts/report_screenshot.sh compare/report.html docs/report_example.png
# Needs Debian's `chromium` (or set CHROMIUM=/path/to/chrome). WINDOW=width,height sets the page size.
set -euo pipefail
if [[ $# -ne 2 ]]; then
    echo "usage: $0 REPORT.html OUT.png" >&2
    exit 2
fi
report=$(realpath "$1")
out=$(realpath -m "$2")
[[ -f $report ]] || { echo "no such report: $1" >&2; exit 1; }
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
[[ -n $chromium ]] || { echo "chromium not found (apt-get install chromium, or set CHROMIUM)" >&2; exit 1; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
mkdir -p "$(dirname "$out")"
rm -f "$out"
timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
    --user-data-dir="$profile" --screenshot="$out" --window-size="${WINDOW:-1200,2400}" \
    "file://$report" >/dev/null 2>&1
[[ -s $out ]] || { echo "chromium wrote no screenshot to $out" >&2; exit 1; }
echo "wrote $out"
