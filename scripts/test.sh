#!/usr/bin/env bash
# The test command: set up, check notebooks and library are in sync and clean, run every notebook, run tests/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

snapshot() { find nbs play_fair -type f \( -name '*.ipynb' -o -name '*.py' \) -not -path '*/.ipynb_checkpoints/*' -print0 | sort -z | xargs -0 sha1sum; }
before=$(snapshot)
nbdev-clean >/dev/null
nbdev-export
after=$(snapshot)
if [ "$before" != "$after" ]; then
  echo "FAILED: nbdev-clean or nbdev-export changed these files; run both and commit the result:"
  diff <(echo "$before") <(echo "$after") | grep '^[<>]' | awk '{print $3}' | sort -u
  exit 1
fi
echo "notebooks clean, library in sync with nbs/"

# The explorer's browser test needs Debian's chromium.
[ -x /usr/bin/chromium ] || [ ! -f scripts/install_chromium.sh ] || bash scripts/install_chromium.sh

# Every notebook's tests (tests/test_notebooks.py runs each notebook with nbdev) and the pytest suite, on as many pytest
# workers as there are cores, up to 4 (PYTEST_WORKERS overrides): most tests wait on a subprocess or on imports.
cores=$(nproc 2>/dev/null || echo 2)
python -m pytest tests/ -n "${PYTEST_WORKERS:-$(( cores < 4 ? cores : 4 ))}" "$@"
