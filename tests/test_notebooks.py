"""Run every notebook in nbs/ as a test, each in a fresh process, with nbdev's notebook runner.

Two guards keep machine-dependent float comparisons out of the notebooks' tests, so that they fail here rather than
on a user's CPU: `tests/strict_floats.py` refuses `test_eq` on floating-point values, and the numeric notebooks run
again under other BLAS code paths (`MKL_CBWR`), where a tolerance that is too tight shows.
"""
import json, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT/'nbs').glob('*.ipynb'))
NUMERIC = ['04_exact_esv', '05_multiscale_esv', '06a_surrogates', '06b_sampling']  # the engines; 06 and 08 build on them
BLAS_PATHS = ['COMPATIBLE', 'AVX2']

def run_notebook(nb:Path, **env):
    "Run `nb`'s tests with exact float comparisons refused; returns the finished process."
    return subprocess.run([sys.executable, str(ROOT/'tests'/'strict_floats.py'), str(nb)], cwd=ROOT, capture_output=True,
                          text=True, timeout=900, env=os.environ | env)

def check(res, name):
    assert res.returncode == 0 and 'Success' in res.stdout, f'{name} failed:\n{res.stdout[-4000:]}\n{res.stderr[-8000:]}'

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook(nb):
    "The notebook runs top to bottom with its default parameters and every example-test in it passes."
    check(run_notebook(nb), nb.name)

@pytest.mark.parametrize('blas', BLAS_PATHS)
@pytest.mark.parametrize('name', NUMERIC)
def test_numeric_notebook_on_other_blas_paths(name, blas):
    "The numeric notebooks' tests pass whichever code path MKL takes (results differ in their last bits between them)."
    check(run_notebook(ROOT/'nbs'/f'{name}.ipynb', MKL_CBWR=blas), f'{name}.ipynb with MKL_CBWR={blas}')

def test_exact_float_comparison_is_refused(tmp_path):
    "The comparison that once passed on one CPU and failed on another fails here, on every CPU."
    cell = lambda src: {'cell_type': 'code', 'execution_count': None, 'id': f'c{len(src)}', 'metadata': {}, 'outputs': [],
                        'source': src}
    nb = {'cells': [cell('from fastcore.test import *\nimport torch'),
                    cell('w = torch.tensor([0.05, 0.4, -0.1, 0.2, 0.0], dtype=torch.float64)\n'
                         'kept = torch.tensor([[1, 1, 1, 1, 1], [1, 0, 1, 1, 1], [1, 0, 1, 0, 1]], dtype=torch.float64)\n'
                         'test_eq(kept @ w, [11/20, 3/20, -1/20])')],
          'metadata': {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}},
          'nbformat': 4, 'nbformat_minor': 5}
    path = tmp_path/'exact.ipynb'
    path.write_text(json.dumps(nb))
    res = run_notebook(path)
    assert res.returncode != 0 and 'test_eq compares floating-point values' in res.stderr, res.stdout + res.stderr
    path.write_text(json.dumps(nb).replace('test_eq(kept @ w, [11/20, 3/20, -1/20])',
                                           'test_close(kept @ w, torch.tensor([11/20, 3/20, -1/20], dtype=torch.float64), eps=1e-12)'))
    check(run_notebook(path), path.name)

def test_notebooks_are_clean():
    "Committed notebooks carry no outputs and no widget state (nbdev-clean keeps `tags` for papermill)."
    for nb in NOTEBOOKS:
        d = json.loads(nb.read_text())
        assert 'widgets' not in d.get('metadata', {}), f'{nb.name} carries widget state; clear it and run nbdev-clean.'
        with_out = [i for i, c in enumerate(d['cells']) if c.get('outputs')]
        assert not with_out, f'{nb.name} has outputs in cells {with_out}; clear outputs before committing.'
