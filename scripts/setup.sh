#!/usr/bin/env bash
# Create (or reuse) the project's virtualenv in .venv and install play_fair with everything it needs.
# Sourced by scripts/demo.sh and scripts/test.sh; safe to run again (it only installs what is missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "play_fair: creating virtualenv in .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.play_fair-installed
want=$(sha1sum pyproject.toml scripts/setup.sh | sha1sum | cut -c1-16)
# pip's warnings about this machine's local package folders are noise: drop them, keep pip's exit status.
pip() { .venv/bin/python -m pip "$@" 2> >(grep -v -e 'is ignored: it is neither' >&2); }
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "play_fair: installing dependencies into .venv (first run takes a few minutes)"
  pip install --quiet --upgrade pip
  # setuptools' notice about editable installs is noise here too (it only ignores the message it names)
  PYTHONWARNINGS="ignore:Editable installation" pip install --quiet -e ".[${PLAY_FAIR_EXTRAS:-dev}]"
  # gulpio2 asks for pillow-simd, which would replace Pillow: install it alone, its real needs come from pyproject.
  pip install --quiet --no-deps "gulpio2>=0.0.4"
  echo "$want" > "$stamp"
fi
