#!/usr/bin/env bash
# Serve the ESV explorer for a collated results file and its videos as a web page on this machine (Voila).
#   bash scripts/explore.sh RESULTS.h5 VIDEOS_DIR [--compare OTHER.h5] [--data-root DATASET_DIR] [--port 8866]
# With no arguments it serves a small self-made demo. Stop it with Ctrl-C.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$root/.venv/bin/python" -c 'from play_fair.dashboard import main; main()' "$@"
