"""Run one notebook's tests with exact comparison of floating-point numbers refused.

`python tests/strict_floats.py nbs/08_evaluation.ipynb` runs the notebook as `nbdev-test` does, except that
`fastcore.test.test_eq` fails when either side holds a floating-point number. A computed float can differ in its
last bits between CPUs (BLAS code paths, summation order), so an exact comparison that passes on one machine can
fail on the next; `test_close` with an explicit tolerance is the test that travels. Exact equality stays for what is
exact by construction: integers, indices, booleans, strings, fractions.
"""
import numbers, os, sys, traceback
from fractions import Fraction
from pathlib import Path

import fastcore.test

def floats_in(x, depth:int=0) -> list:
    "Up to a few floating-point values held anywhere in `x` (numbers, arrays, tensors, frames, containers)."
    if depth > 4 or isinstance(x, (str, bytes, bool, Fraction, numbers.Integral)): return []
    if isinstance(x, numbers.Real): return [x]  # float, numpy floating
    if isinstance(x, numbers.Complex): return [x]
    dtype = getattr(x, 'dtype', None)
    if dtype is not None and hasattr(x, 'shape'):  # numpy arrays and scalars, torch tensors
        is_float = getattr(x, 'is_floating_point', None)
        floating = is_float() if callable(is_float) else getattr(dtype, 'kind', '') in 'fc'
        if not floating: return []
        flat = x.reshape(-1)
        return [flat[i].item() for i in range(min(3, flat.shape[0]))] or [float('nan')]
    if hasattr(x, 'to_numpy') and hasattr(x, 'dtypes'):  # pandas Series and DataFrame
        return floats_in(x.select_dtypes('number').to_numpy() if hasattr(x, 'select_dtypes') else x.to_numpy(), depth + 1)
    if isinstance(x, dict): x = list(x.values())
    if isinstance(x, (list, tuple, set, frozenset)):
        return [f for v in list(x)[:10_000] for f in floats_in(v, depth + 1)][:3]
    return []

_test_eq = fastcore.test.test_eq

def strict_test_eq(a, b):
    "`test_eq` that refuses floating-point values: compare those with `test_close(a, b, eps=...)`."
    found = floats_in(a) or floats_in(b)
    if found and os.environ.get('STRICT_FLOATS_REPORT'):  # survey mode: list every offending call, then go on
        cell = next((f for f in traceback.extract_stack()[::-1] if f.filename.startswith('<')), None)
        print(f"float test_eq: {cell.line if cell else '?'} ({found[0]!r})", file=sys.__stderr__)
    elif found:
        raise AssertionError(f"test_eq compares floating-point values (e.g. {found[0]!r}): the result may differ in its "
                             "last bits on another CPU; use test_close(a, b, eps=...) instead.")
    _test_eq(a, b)

def main(notebook:str):
    fastcore.test.test_eq = strict_test_eq
    from nbdev.test import test_nb
    ok, secs = test_nb(notebook, skip_flags=['notest', 'slow'])
    print(f"{'Success' if ok else 'Failure'}: {Path(notebook).name} in {secs:.1f} s")
    return 0 if ok else 1

if __name__ == '__main__': sys.exit(main(sys.argv[1]))
