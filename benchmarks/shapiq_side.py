"""The default approximate ESV method against shapiq's newest estimators, on the same games (shapiq ≥ 1.5 needs Python ≥ 3.12).

    python benchmarks/shapiq_side.py export /tmp/games            # project env: games, exact ESVs, our estimates
    /path/to/py312-env/bin/python benchmarks/shapiq_side.py run /tmp/games   # side env with shapiq: the table

`export` writes, for the issue's black-box models (a GRU and a temporal transformer over 16 frames), every coalition's
value for a few classes of each video (the exact game shapiq is given, one class at a time), the exact ESVs, and the
default method's estimates at each budget (one run for all classes; its error is taken on the same classes). `run`
gives each shapiq estimator the same budget per class and prints the median relative squared error over videos.
"""
import argparse, inspect, sys
from pathlib import Path

import numpy as np


def export(a):
    import torch
    from play_fair.accuracy import coalition_values, exact_reference, issue_models
    from play_fair.approximate import approximate_esvs
    torch.set_num_threads(a.threads)
    models = issue_models()
    gen = torch.Generator().manual_seed(1)
    videos = [torch.randn(16, 64, generator=gen, dtype=torch.float64) for _ in range(a.videos)]
    priors = torch.softmax(0.5 * torch.randn(20, generator=gen, dtype=torch.float64), 0)
    budgets = [int(b) for b in a.budgets.split(',')]
    out = Path(a.folder); out.mkdir(parents=True, exist_ok=True)
    for name in a.models.split(','):
        tables, exact, ours = [], [], []
        for v, x in enumerate(videos):
            e = exact_reference(models[name], x, priors)
            classes = e.abs().sum(0).argsort(descending=True)[:a.classes]      # the classes with the largest ESVs
            tables.append(coalition_values(models[name], x, priors)[:, classes].numpy())
            exact.append(e[:, classes].numpy())
            ours.append([approximate_esvs(models[name], x, priors, budget=b, seed=v).values[:, classes].numpy() for b in budgets])
            print(f'# {name}: video {v + 1}/{len(videos)}', file=sys.stderr, flush=True)
        np.savez(out/f'{name}.npz', tables=np.stack(tables), exact=np.stack(exact), ours=np.stack(ours), budgets=budgets)


def shapiq_estimate(name:str, table:np.ndarray, n:int, budget:int, seed:int) -> np.ndarray:
    "One shapiq estimator's Shapley values of the game given by `table` (values indexed by bitmask)."
    import shapiq
    cls = getattr(shapiq, name, None) or getattr(shapiq.approximator, name)
    params = inspect.signature(cls.__init__).parameters
    kwargs = {k: v for k, v in dict(random_state=seed, pairing_trick=True, index='SV').items() if k in params}
    est = cls(n, **kwargs)
    powers = 1 << np.arange(n)
    values = est.approximate(budget, lambda coalitions: table[(coalitions.astype(np.int64) * powers).sum(1)])
    return np.array([values[(i,)] for i in range(n)])


def run(a):
    import shapiq
    rows = []
    for path in sorted(Path(a.folder).glob('*.npz')):
        d = np.load(path)
        tables, exact, ours, budgets = d['tables'], d['exact'], d['ours'], d['budgets'].tolist()
        V, _, K = tables.shape
        n = exact.shape[1]
        def rel(est, ex): return float(((est - ex)**2).sum() / (ex**2).sum())
        for b, budget in enumerate(budgets):
            rows.append((path.stem, 'play_fair default', budget, np.median([rel(ours[v, b], exact[v]) for v in range(V)])))
            for name in filter(None, a.estimators.split(',')):
                errs = []
                for v in range(V):
                    est = np.stack([shapiq_estimate(name, tables[v, :, k], n, budget, v) for k in range(K)], 1)
                    errs.append(rel(est, exact[v]))
                rows.append((path.stem, f'shapiq {name}', budget, float(np.median(errs))))
                print(f'# {path.stem} {name} {budget}', file=sys.stderr, flush=True)
    budgets = sorted({r[2] for r in rows})
    print(f'shapiq {shapiq.__version__}; median relative squared error over videos (the classes with the largest ESVs)\n')
    print('| model | method | ' + ' | '.join(f'B={b}' for b in budgets) + ' |')
    print('| --- | --- |' + ' --- |' * len(budgets))
    for model, method in dict.fromkeys((r[0], r[1]) for r in rows):
        cells = {r[2]: r[3] for r in rows if r[:2] == (model, method)}
        print(f'| {model} | {method} | ' + ' | '.join(f'{cells[b]:.1e}' if b in cells else '' for b in budgets) + ' |')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('step', choices=('export', 'run'))
    p.add_argument('folder')
    p.add_argument('--videos', type=int, default=6)
    p.add_argument('--classes', type=int, default=3, help='classes per video (those with the largest ESVs)')
    p.add_argument('--models', default='GRU,Transformer')
    p.add_argument('--budgets', default='256,1024,4096,16384')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--estimators', default='KernelSHAP,RegressionMSR,PolySHAP,OddSHAP,SVARM')
    a = p.parse_args(argv)
    export(a) if a.step == 'export' else run(a)


if __name__ == '__main__':
    main()
