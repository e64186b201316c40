"""How fast `compute-esvs` is end to end: exact 8-frame multiscale-TRN ESVs for 25,000 videos with the paper's sizes
(D=256 features, C=174 classes, H=256 hidden units, m=8 heads), including reading features and writing the results file.

    python benchmarks/batch_speed.py            # 25,000 videos (the target: at most 60 s on 2 CPU cores)
    python benchmarks/batch_speed.py --quick    # 500 videos, a smoke run
"""
import argparse, os, tempfile, time
from pathlib import Path

import numpy as np
import torch

from play_fair.features import write_features
from play_fair.batch import compute_esvs
from play_fair.models import TRN, MultiscaleTRN, save_model
from play_fair.priors import save_priors

D, C, H, M, T = 256, 174, 256, 8, 8


def make_inputs(root, n_videos, seed=0):
    "A random MTRN checkpoint, priors, and features of `n_videos` 8-frame videos."
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    names = [f'class {c}' for c in range(C)]
    save_model(MultiscaleTRN([TRN(k, D, H, C) for k in range(1, M + 1)]), root/'mtrn', class_names=names)
    videos = rng.standard_normal((n_videos, T, D), dtype=np.float32)
    write_features(root/'features.h5', 'validation', list(videos), rng.integers(0, C, n_videos))
    priors = rng.random(C) + 0.5
    save_priors(priors / priors.sum(), names, root/'priors.csv')
    return root/'mtrn', root/'features.h5', root/'priors.csv'


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--quick', action='store_true', help='500 videos instead of 25,000')
    p.add_argument('--videos', type=int, help='number of videos (default: 25,000, or 500 with --quick)')
    p.add_argument('--chunk-size', type=int, nargs='+', default=[1024], help='chunk sizes to compare (default: 1024)')
    p.add_argument('--workers', type=int, default=0, help='local Dask workers (default: 0, in process)')
    a = p.parse_args()
    n = a.videos or (500 if a.quick else 25_000)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        model, features, priors = make_inputs(root, n)
        print(f"inputs: {n:,} videos x {T} frames x {D}-D features written in {time.perf_counter() - start:.1f} s")
        print(f"machine: {os.cpu_count()} CPUs visible, torch threads {torch.get_num_threads()}, workers {a.workers}")
        rows = []
        for chunk in a.chunk_size:
            out = root/f'esvs-{chunk}.h5'
            cpu = time.process_time()
            s = compute_esvs(model, priors, out, T, features=features, chunk_size=chunk, device='cpu', workers=a.workers, quiet=True)
            cpu = time.process_time() - cpu
            setup = float('nan') if a.workers else s['seconds'] - s['compute'] - s['reading'] - s['writing']
            rows.append((chunk, s['done'], s['seconds'], s['videos_per_second'], s['compute'], s['reading'], s['writing'],
                         setup, cpu, out.stat().st_size / 2**20))
    head = ('chunk', 'videos', 'total s', 'videos/s', 'compute s', 'read s', 'write s', 'setup s', 'CPU s', 'file MiB')
    print(' | '.join(f'{h:>9}' for h in head))
    for r in rows:
        print(' | '.join(f'{v:>9,}' if isinstance(v, int) else f'{v:>9.1f}' for v in r))
    print("compute: ESV engine (summed over workers when on Dask); read: features; write: chunks + final file; "
          "setup: checks, input digests, planning (not shown on Dask, where compute overlaps); CPU: this process's CPU time (all its threads; "
          "workers not included), which on a shared machine shows what the run would take with the cores to itself.")
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    print(f"load average at the end: {load:.1f} on {os.cpu_count()} CPUs")


if __name__ == '__main__':
    main()
