"Run every notebook in nbs/ as a test, each in a fresh process, with nbdev's notebook runner."
import subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT/'nbs').glob('*.ipynb'))

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook(nb):
    "The notebook runs top to bottom with its default parameters and every example-test in it passes."
    res = subprocess.run([sys.executable, '-m', 'nbdev.test', str(nb), '--n-workers', '0'],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0 and 'Success' in res.stdout, f'{nb.name} failed:\n{res.stdout[-4000:]}\n{res.stderr[-8000:]}'

def test_notebooks_are_clean():
    "Committed notebooks carry no outputs and no widget state (nbdev-clean keeps `tags` for papermill)."
    import json
    for nb in NOTEBOOKS:
        d = json.loads(nb.read_text())
        assert 'widgets' not in d.get('metadata', {}), f'{nb.name} carries widget state; clear it and run nbdev-clean.'
        with_out = [i for i, c in enumerate(d['cells']) if c.get('outputs')]
        assert not with_out, f'{nb.name} has outputs in cells {with_out}; clear outputs before committing.'
