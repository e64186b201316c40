"""Accuracy and speed of the approximate ESV methods (play_fair.approximate) against exact ESVs, shapiq and shap.

    python benchmarks/approx_accuracy.py             # the full table: 20 videos, T = 16, paper-size models (minutes)
    python benchmarks/approx_accuracy.py --quick     # a smoke run in seconds (tiny models, 2 videos, no targets)
    python benchmarks/approx_accuracy.py --features data/something-synthetic/features.h5 --checkpoints checkpoints
    python benchmarks/approx_accuracy.py --issue --videos 20   # the issue's table: MTRN as TRN and as MLP heads, GRU, transformer

Error is the relative squared error ‖φ̂ − φ‖² / ‖φ‖² over all frames and classes of a video, against exact ESVs
(`exact_esvs` for the TSN, `multiscale_esvs` for the MTRN); the table shows its median over videos and seeds.
Budgets count model evaluations on subsets for the TSN and single-scale head evaluations for the MTRN. shapiq's
KernelSHAP (pairing on) and shap's PermutationExplainer get the same budget in coalitions of the same game; for the
MTRN that is generous to them, since each of their coalitions gets its exact value (which alone costs up to
Σ_s C(|S|, s) head evaluations), so their MTRN rows are marked "exact values". `z` is the median of |error| / stderr
over all ESVs (about 0.67 when the standard errors are calibrated and the errors normal). Without `--features` and
`--checkpoints` the models are random, at the paper's sizes (D = H = 256, C = 174, 8 heads), on Gaussian features.
The study's functions live in play_fair.accuracy (nbs/06d_accuracy.ipynb), which nbs/06_approximation.ipynb plots.
"""
import argparse, sys

import pandas as pd
import torch

from play_fair.accuracy import BASELINES, accuracy, issue_models, study_inputs, summary, time_vs_frames
from play_fair.approximate import approximate_esvs


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


def issue_table(a) -> None:
    "The issue's table: median relative squared error and coverage of the 95% intervals, default method vs constructive."
    models = issue_models()
    gen = torch.Generator().manual_seed(1)
    videos = [torch.randn(a.frames, 64, generator=gen, dtype=torch.float64) for _ in range(a.videos)]
    priors = torch.softmax(0.5 * torch.randn(20, generator=gen, dtype=torch.float64), 0)
    methods = tuple(a.methods.split(','))
    frames = []
    for name, model in models.items():
        if name.split(' ')[0] not in a.models.split(',') and name not in a.models.split(','): continue   # 'MTRN' or 'MTRN (GELU heads)'
        budgets = a.mtrn_budgets if name.startswith('MTRN') else a.blackbox_budgets
        frames.append(accuracy({name: model}, videos, priors, [int(b) for b in budgets.split(',')], methods=methods,
                               seeds=range(a.seeds), baselines=tuple(b for b in a.baselines.split(',') if b),
                               workers=a.workers,
                               progress=lambda s: print('#', s, file=sys.stderr, flush=True)))
    df = pd.concat(frames)
    print(f'# {a.videos} videos of T={a.frames} frames, Gaussian features D=64; MTRN: 8 heads, H=128, C=20, logits x3; '
          f'GRU: H=128, C=20, logits x5; Transformer: 2 layers, width 64, 4 heads, C=20, logits x5; '
          f'torch threads {torch.get_num_threads()}, {a.workers} workers')
    err, cov = summary(df), summary(df, 'coverage')
    print('\n| model | method | ' + ' | '.join(f'B={b}' for b in err.columns) + ' |')
    print('| --- | --- |' + ' --- |' * len(err.columns))
    for (model, method), row in err.iterrows():
        cells = [(f'{row[b]:.1e} (cov {cov.loc[(model, method), b]:.2f})' if (model, method) in cov.index else f'{row[b]:.1e}')
                 if row[b] == row[b] else '' for b in err.columns]
        print(f'| {model} | {method} | ' + ' | '.join(cells) + ' |')
    print('\nmedian seconds per video')
    print(df.pivot_table(index=['model', 'method'], columns='budget', values='seconds', aggfunc='median')
            .to_string(float_format=lambda v: f'{v:.2f}'))


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
    p.add_argument('--issue', action='store_true', help="the issue's models: MTRN as TRN and as MLP heads, a GRU, a transformer")
    p.add_argument('--methods', default='surrogate,constructive', help='--issue: methods to compare')
    p.add_argument('--mtrn-budgets', default='256,904,1024,4096,16384')
    p.add_argument('--blackbox-budgets', default='256,1024,4096,16384', help='--issue: budgets of the GRU and the transformer')
    p.add_argument('--baselines', default='', help="--issue: baselines beside the methods, e.g. shap-permutation")
    a = p.parse_args(argv)
    if a.issue:
        if a.models == 'TSN,MTRN': a.models = 'MTRN,GRU,Transformer'
        return issue_table(a)
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
