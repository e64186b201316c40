#!/usr/bin/env bash
# The main job on the embedded dataset: set up, then run the pipeline end to end on Something-Synthetic.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/play-fair-demo "$@"
