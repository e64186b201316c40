"""Accuracy and speed of the approximate ESV methods (play_fair.approximate) against exact ESVs, shapiq and shap.

    python benchmarks/approx_accuracy.py             # the full table: 20 videos, T = 16, paper-size models (minutes)
    python benchmarks/approx_accuracy.py --quick     # a smoke run in seconds (tiny models, 2 videos, no targets)
    python benchmarks/approx_accuracy.py --features data/something-synthetic/features.h5 --checkpoints checkpoints

Error is the relative squared error ‖φ̂ − φ‖² / ‖φ‖² over all frames and classes of a video, against exact ESVs
(`exact_esvs` for the TSN, `multiscale_esvs` for the MTRN); the table shows its median over videos and seeds.
Budgets count model evaluations on subsets for the TSN and single-scale head evaluations for the MTRN. shapiq's
KernelSHAP (pairing on) and shap's PermutationExplainer get the same budget in coalitions of the same game; for the
MTRN that is generous to them, since each of their coalitions gets its exact value (which alone costs up to
Σ_s C(|S|, s) head evaluations), so their MTRN rows are marked "exact values". `z` is the median of |error| / stderr
over all ESVs (about 0.67 when the standard errors are calibrated and the errors normal). Without `--features` and
`--checkpoints` the models are random, at the paper's sizes (D = H = 256, C = 174, 8 heads), on Gaussian features.
This module is also the engine of the study in nbs/06_approximation.ipynb.
"""
import json, argparse, sys, time, warnings
import multiprocessing as mp
from pathlib import Path
from statistics import median

import numpy as np
import pandas as pd
import torch

from play_fair.approximate import METHODS, approximate_esvs
from play_fair.esv import subset_masks
from play_fair.models import TRN, FeatureTSN, MultiscaleTRN
from play_fair.multiscale import exact_model_esvs, multiscale_heads, multiscale_lattice

PAPER = dict(D=256, H=256, C=174, m=8)
QUICK = dict(D=16, H=16, C=6, m=4)
BASELINES = ('shapiq-kernelshap', 'shap-permutation')


class PooledMLP(torch.nn.Module):
    "An early-fusion variable-length head: an MLP on the mean of the frame features (not a late-fusion model)."
    def __init__(self, input_dim, hidden_dim, n_classes):
        super().__init__()
        self.input_dim, self.n_classes = input_dim, n_classes
        self.mlp = torch.nn.Sequential(torch.nn.Linear(input_dim, hidden_dim), torch.nn.ReLU(),
                                       torch.nn.Linear(hidden_dim, n_classes))
    def forward(self, x): return self.mlp(x.mean(1))


def random_models(sizes:dict, logit_scale:float=1., seed:int=0) -> dict:
    "A FeatureTSN, a multiscale TRN and a pooled MLP with random weights (last layers times `logit_scale`), in eval mode."
    torch.manual_seed(seed)
    tsn = FeatureTSN(sizes['D'], sizes['C']).eval()
    heads = [TRN(s, sizes['D'], sizes['H'], sizes['C']).eval() for s in range(1, sizes['m'] + 1)]
    pooled = PooledMLP(sizes['D'], sizes['H'], sizes['C']).eval()
    with torch.no_grad():
        for layer in [tsn.classifier, pooled.mlp[2]] + [h.model[3] for h in heads]:
            layer.weight.mul_(logit_scale); layer.bias.mul_(logit_scale)
    return {'TSN': tsn, 'MTRN': MultiscaleTRN(heads), 'pooled-MLP': pooled}


def study_inputs(n_videos:int, n_frames:int, *, quick:bool=False, features_path=None, checkpoint_dir=None,
                 priors_path=None, logit_scale:float=1., seed:int=0, model_names=('TSN', 'MTRN')) -> tuple:
    "(models {name: model}, videos [(T, D) float64], priors (C,), description): trained when paths are given, else random."
    if features_path and checkpoint_dir:
        from play_fair.features import FeatureDataset
        from play_fair.models import load_model
        folders = sorted(p.parent for p in Path(checkpoint_dir).glob('*/config.json'))
        models = {}
        for folder in folders:
            if json.loads((folder/'config.json').read_text()).get('kind') not in ('tsn', 'mtrn'): continue  # the backbone
            model = load_model(folder, device='cpu').eval()
            models.setdefault('TSN' if isinstance(model, FeatureTSN) else 'MTRN', model)
        data = FeatureDataset(features_path, 'validation', n_frames=n_frames, mode='test')
        videos = [data[i][0].double() for i in range(min(n_videos, len(data)))]
        C = next(iter(models.values())).n_classes if hasattr(next(iter(models.values())), 'n_classes') else \
            next(iter(models.values())).heads[0].n_classes
        if priors_path:
            from play_fair.priors import load_priors
            priors = load_priors(priors_path).double()
        else: priors = torch.full((C,), 1 / C, dtype=torch.float64)
        return models, videos, priors, f'trained checkpoints from {checkpoint_dir}, features {features_path}'
    sizes = QUICK if quick else PAPER
    models = {k: v for k, v in random_models(sizes, logit_scale, seed).items() if k in model_names}
    gen = torch.Generator().manual_seed(seed + 1)
    videos = [torch.randn(n_frames, sizes['D'], generator=gen, dtype=torch.float64) for _ in range(n_videos)]
    priors = torch.softmax(0.5 * torch.randn(sizes['C'], generator=gen, dtype=torch.float64), 0)
    what = 'paper-size' if not quick else 'tiny'
    return models, videos, priors, (f'random {what} models (D={sizes["D"]}, H={sizes["H"]}, C={sizes["C"]}, '
                                    f'{sizes["m"]} heads, logits x{logit_scale:g}) on Gaussian features')


def exact_reference(model, x:torch.Tensor, priors:torch.Tensor) -> torch.Tensor:
    "Exact ESVs (T, C) with the exact engine that fits the model."
    return exact_model_esvs(model.double(), x, priors).values


def coalition_values(model, x:torch.Tensor, priors:torch.Tensor) -> torch.Tensor:
    "v(S) for all 2^T coalitions, indexed by bitmask (exact; the multiscale model through its lattice walk)."
    T, heads = x.shape[0], multiscale_heads(model)
    values = priors.new_empty(2**T, len(priors))
    values[0] = priors
    with torch.inference_mode():
        if heads is None:
            model = model.double()
            for mask in range(1, 2**T, 4096):
                rows = torch.arange(mask, min(mask + 4096, 2**T))
                member = ((rows[:, None] >> torch.arange(T)) & 1).bool()
                for k in member.sum(1).unique().tolist():
                    sel = member.sum(1) == k
                    values[rows[sel]] = model(x[member[sel].nonzero()[:, 1].view(-1, k)]).softmax(-1)
            return values
        heads = [h.double() for h in heads]
        for chunk, logits, scale in multiscale_lattice(heads, x[None], len(priors), len(priors), 4096):
            values[subset_masks(chunk.elements)] = (logits[:, 0] / scale).softmax(-1)
    return values


def table_game(values:torch.Tensor):
    "A game (n, T) bool → (n, C) values read from a 2^T table."
    def game(coalitions):
        bits = 1 << torch.arange(coalitions.shape[1])
        return values[(coalitions.long() * bits).sum(1)]
    return game


def shapiq_kernelshap(game, n_frames:int, n_classes:int, budget:int, seed:int) -> torch.Tensor:
    "shapiq's KernelSHAP (pairing on) on a vector game: one draw of coalitions, shapiq's regression for every class."
    import shapiq
    est = shapiq.KernelSHAP(n_frames, pairing_trick=True, random_state=seed)
    seen = {}
    def first_class(coalitions):
        seen['values'] = game(torch.from_numpy(coalitions).bool()).numpy()
        return seen['values'][:, 0]
    est.approximate(budget, first_class)
    weights, lookup = est._init_kernel_weights(1), est.interaction_lookup
    out = np.zeros((n_frames, n_classes))
    for c in range(n_classes):
        vals = est.regression_routine(kernel_weights=weights, game_values=seen['values'][:, c],
                                      index_approximation=est.approximation_index)
        out[:, c] = [vals[lookup[(i,)]] for i in range(n_frames)]
    return torch.from_numpy(out)


def shap_permutation(game, n_frames:int, budget:int, seed:int) -> torch.Tensor:
    "shap's PermutationExplainer (antithetic permutations) on the game, masking frames against an all-absent background."
    import shap
    explainer = shap.PermutationExplainer(lambda X: game(torch.from_numpy(X).bool()).numpy(),
                                          shap.maskers.Independent(np.zeros((1, n_frames)), max_samples=1), seed=seed)
    return torch.from_numpy(np.asarray(explainer(np.ones((1, n_frames)), max_evals=budget, silent=True).values[0]))


def relative_error(est:torch.Tensor, exact:torch.Tensor) -> float:
    return float(((est - exact)**2).sum() / (exact**2).sum())


def video_rows(name:str, model, v:int, x:torch.Tensor, priors:torch.Tensor, budgets:list, methods=METHODS, seeds=(0,),
               baselines=BASELINES) -> list:
    "The study's rows for one model and one video: every method, budget and seed against the exact ESVs."
    rows, C = [], len(priors)
    exact = exact_reference(model, x, priors)
    game = table_game(coalition_values(model, x, priors)) if baselines else None
    for budget in budgets:
        for seed in seeds:
            for method in methods:
                start = time.perf_counter()
                try: r = approximate_esvs(model, x, priors, budget=budget, method=method, seed=seed)
                except ValueError: continue                    # budget below the method's minimum
                err, error = (r.values - exact).abs(), relative_error(r.values, exact)
                z = float((err / r.stderr).nanmedian()) if error > 1e-14 else float('nan')   # nan: exact to rounding
                rows.append(dict(model=name, method=method, budget=budget, video=v, seed=seed, error=error,
                                 seconds=time.perf_counter() - start, evaluations=r.n_evaluations, z=z,
                                 stderr_ratio=float((r.stderr**2).sum() / (err**2).sum())))
            for method in baselines:
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore')
                    est = (shapiq_kernelshap(game, x.shape[0], C, budget, seed) if method == 'shapiq-kernelshap'
                           else shap_permutation(game, x.shape[0], budget, seed))
                rows.append(dict(model=name, method=method, budget=budget, video=v, seed=seed,
                                 error=relative_error(est, exact), seconds=time.perf_counter() - start,
                                 evaluations=budget, z=float('nan'), stderr_ratio=float('nan')))
    return rows


_STUDY = None  # (models, videos, the other arguments of video_rows): what forked workers read


def _one_thread():
    "Start of a worker: one thread for torch and for numpy's BLAS (shap, shapiq), so workers share the cores, not fight."
    from threadpoolctl import threadpool_limits
    torch.set_num_threads(1)
    threadpool_limits(1)


def _study_task(task):
    name, v = task
    models, videos, args = _STUDY
    return name, v, video_rows(name, models[name], v, videos[v], *args)


def accuracy(models:dict, videos:list, priors:torch.Tensor, budgets:list, methods=METHODS, seeds=(0,),
             baselines=BASELINES, progress=print, workers:int=1) -> pd.DataFrame:
    """One row per (model, method, budget, video, seed): relative squared error, seconds, evaluations, calibration.
    `workers` > 1 studies that many (model, video) pairs at once in forked single-threaded processes: the same rows,
    in the same order (each method's `seconds` then measured on one thread)."""
    global _STUDY
    tasks = [(name, v) for name in models for v in range(len(videos))]
    args = (priors, budgets, methods, tuple(seeds), baselines)
    rows = []
    if workers > 1 and 'fork' in mp.get_all_start_methods():
        _STUDY = (models, videos, args)
        try:
            with mp.get_context('fork').Pool(workers, initializer=_one_thread) as pool:
                for name, v, r in pool.imap(_study_task, tasks):
                    rows += r
                    if progress: progress(f'{name}: video {v + 1}/{len(videos)} done')
        finally: _STUDY = None
    else:
        for name, v in tasks:
            rows += video_rows(name, models[name], v, videos[v], *args)
            if progress: progress(f'{name}: video {v + 1}/{len(videos)} done')
    return pd.DataFrame(rows)


def summary(df:pd.DataFrame) -> pd.DataFrame:
    "Median error per model, method and budget (columns: budgets)."
    return df.pivot_table(index=['model', 'method'], columns='budget', values='error', aggfunc='median')


def check_targets(df:pd.DataFrame, budgets=(128, 1024, 4096)) -> list:
    "The targets: default ≥ 10× below constructive, ≤ shapiq's paired KernelSHAP, and ≤ 1e-3 at 1024, per model."
    default, table, lines = approximate_esvs.__kwdefaults__['method'], summary(df), []
    for model in table.index.get_level_values(0).unique():
        for b in budgets:
            if b not in table.columns: continue
            d, c = table.loc[(model, default), b], table.loc[(model, 'constructive'), b]
            lines.append(f'{model} B={b}: {default} {d:.2e} vs constructive {c:.2e} ({c / d:.0f}x, target ≥ 10x): '
                         f'{"PASS" if c >= 10 * d else "FAIL"}')
            if (model, 'shapiq-kernelshap') in table.index:
                s = table.loc[(model, 'shapiq-kernelshap'), b]
                lines.append(f'{model} B={b}: {default} {d:.2e} vs shapiq KernelSHAP {s:.2e}: {"PASS" if d <= s else "FAIL"}')
            if b == 1024: lines.append(f'{model} B=1024: {default} {d:.2e} ≤ 1e-3: {"PASS" if d <= 1e-3 else "FAIL"}')
    return lines


def time_vs_frames(model, frames:list, budget:int, method:str=None, repeats:int=3, seed:int=0) -> pd.DataFrame:
    "Median wall time of one video's approximate ESVs at a fixed budget, for each number of frames."
    method = method or approximate_esvs.__kwdefaults__['method']
    D = (multiscale_heads(model) or [model])[0].input_dim
    rows = []
    for T in frames:
        x = torch.randn(T, D, generator=torch.Generator().manual_seed(T))
        priors = torch.full((((multiscale_heads(model) or [model])[0]).n_classes,), 1.)
        priors /= priors.sum()
        times = []
        for r in range(repeats):
            start = time.perf_counter()
            res = approximate_esvs(model, x, priors, budget=budget, method=method, seed=r)
            times.append(time.perf_counter() - start)
        rows.append(dict(frames=T, method=method, budget=budget, seconds=median(times), evaluations=res.n_evaluations))
    return pd.DataFrame(rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--quick', action='store_true', help='tiny models, 2 videos, T = 8: a smoke run')
    p.add_argument('--videos', type=int, default=20)
    p.add_argument('--frames', type=int, default=16)
    p.add_argument('--budgets', default='128,1024,4096')
    p.add_argument('--seeds', type=int, default=1)
    p.add_argument('--logit-scale', type=float, default=1., help='multiply random models\' last layers (sharper softmax)')
    p.add_argument('--features'); p.add_argument('--checkpoints'); p.add_argument('--priors')
    p.add_argument('--threads', type=int, help='torch threads (default: torch\'s)')
    p.add_argument('--workers', type=int, default=1, help='(model, video) pairs studied at once, one thread each')
    p.add_argument('--no-baselines', action='store_true', help='skip shapiq and shap')
    p.add_argument('--timing-frames', default='16,32,64,128,256', help='empty: no timing')
    p.add_argument('--models', default='TSN,MTRN', help='random models to study: TSN, MTRN, pooled-MLP')
    a = p.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    if a.quick: a.videos, a.frames, a.budgets, a.timing_frames = 2, 8, '64,256', '8,16,32'
    budgets = [int(b) for b in a.budgets.split(',')]
    models, videos, priors, what = study_inputs(a.videos, a.frames, quick=a.quick, features_path=a.features,
                                                checkpoint_dir=a.checkpoints, priors_path=a.priors,
                                                logit_scale=a.logit_scale, model_names=a.models.split(','))
    print(f'# {len(videos)} videos of T={a.frames} frames; {what}; torch threads {torch.get_num_threads()}', flush=True)
    df = accuracy(models, videos, priors, budgets, seeds=range(a.seeds), baselines=() if a.no_baselines else BASELINES,
                  progress=lambda s: print('#', s, file=sys.stderr, flush=True), workers=a.workers)
    pd.set_option('display.width', 200)
    print('\nmedian relative squared error ‖φ̂−φ‖²/‖φ‖² (columns: budget)')
    print(summary(df).to_string(float_format=lambda v: f'{v:.2e}'))
    print('\nmedian seconds per video')
    print(df.pivot_table(index=['model', 'method'], columns='budget', values='seconds', aggfunc='median')
            .to_string(float_format=lambda v: f'{v:.3f}'))
    print('\ncalibration: median |error| / stderr (0.67 for calibrated normal errors)')
    print(df[~df.method.isin(BASELINES)].pivot_table(index=['model', 'method'], columns='budget', values='z',
                                                      aggfunc='median').to_string(float_format=lambda v: f'{v:.2f}'))
    if not a.quick:
        print('\ntargets'); print('\n'.join(check_targets(df, budgets)))
    frames = [int(t) for t in a.timing_frames.split(',') if t]
    if 'MTRN' not in models or not frames: return
    mtrn = models['MTRN']
    print(f'\ntime vs T at budget {4096 if not a.quick else 256} (MTRN, default method)')
    print(time_vs_frames(mtrn, frames, 4096 if not a.quick else 256).to_string(index=False, float_format=lambda v: f'{v:.3f}'))


if __name__ == '__main__':
    main()
