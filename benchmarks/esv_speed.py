"""Speed and memory of the exact ESV engines (play_fair.esv, play_fair.multiscale) at the paper's model sizes.

The sii_* rows time all-pairs Shapley interactions (play_fair.interactions) beside the ESVs of the same model and
clip, since both come from the same lattice walk: each repeat times the ESVs and then the interactions in the same
process, so their ratio compares runs made under the same load.

    python benchmarks/esv_speed.py            # the full table (a few minutes on 2 cores)
    python benchmarks/esv_speed.py --quick    # a smoke run in seconds (tiny sizes, one process, no targets)
    python benchmarks/esv_speed.py --cases mtrn_T16,tsn_T20 --repeats 5

Every case runs in a fresh process, so its peak resident memory (getrusage) is its own (with --quick all cases
share this process and the peak column is only indicative). Times are medians over
`--repeats` runs (1 run when a single run takes over 20 s); CPU time is the process's user+system time for the
same run, which says how much of the wall time was spent waiting for cores on a shared machine. Random weights,
one video of float32 features unless the case says otherwise, default torch threads.
"""
import argparse, json, os, resource, subprocess, sys, time
from statistics import median

PAPER = dict(D=256, H=256, C=174, m=8)
QUICK = dict(D=32, H=32, C=10, m=4)

# name: (engine, n_frames, n_videos, target seconds, target GB, reference case for the speed-up column)
CASES = {
    'mtrn_T16':        ('multiscale', 16, 1, 0.25, None, None),
    'mtrn_T20':        ('multiscale', 20, 1, 10, 6, None),
    'mtrn_T24':        ('multiscale', 24, 1, 60, 8, None),
    'tsn_T20':         ('tsn', 20, 1, 1, None, None),
    'tsn_T24':         ('tsn', 24, 1, 15, 8, None),
    'mtrn_T8_x1000':   ('multiscale', 8, 1000, None, None, 'ref_mtrn_T8_x20'),
    'mtrn_T12':        ('multiscale', 12, 1, None, None, 'ref_mtrn_T12'),
    'tsn_T16':         ('tsn', 16, 1, None, None, 'ref_tsn_T16'),
    'mtrn_T8':         ('multiscale', 8, 1, None, None, 'ref_brute_mtrn_T8'),
    'ref_mtrn_T8_x20': ('blackbox-mtrn', 8, 20, None, None, None),
    'ref_mtrn_T12':    ('blackbox-mtrn', 12, 1, None, None, None),
    'ref_tsn_T16':     ('blackbox-tsn', 16, 1, None, None, None),
    'ref_brute_mtrn_T8': ('brute-mtrn', 8, 1, None, None, None),
    'sii_mtrn_T16':    ('interactions', 16, 1, None, None, None),
    'sii_mtrn_T8_x1000': ('interactions', 8, 1000, None, None, None),
}
RATE_TARGETS = {'mtrn_T8_x1000': 1000, 'sii_mtrn_T8_x1000': 500}   # videos/s
RATIO_TARGETS = {'sii_mtrn_T16': 3, 'sii_mtrn_T8_x1000': None}  # at most this × the time of the same clips' ESVs
QUICK_FRAMES = {16: 8, 20: 9, 24: 10, 12: 7, 8: 6}
QUICK_VIDEOS = {1000: 50, 20: 5}

ENGINES = {
    'multiscale': 'multiscale_esvs over TRN_1..TRN_m (factorised first layer)',
    'tsn': 'exact_esvs on a FeatureTSN (mask-matrix path)',
    'blackbox-mtrn': 'exact_esvs on the MultiscaleTRN reference as a black box',
    'blackbox-tsn': 'exact_esvs on a TSN hidden behind a plain function (general path)',
    'brute-mtrn': 'brute_force_esvs (all T! orders) on the MultiscaleTRN reference',
    'interactions': 'shapley_interactions (all-pairs SII) with the multiscale engine',
}


def run_case(name, quick, repeats, threads=None):
    "Run one case in this process and return its measurements."
    import psutil, torch
    if threads: torch.set_num_threads(threads)
    from play_fair.esv import brute_force_esvs, characteristic_fn, estimate_exact_memory, exact_esvs
    from play_fair.models import TRN, FeatureTSN, MultiscaleTRN
    from play_fair.multiscale import multiscale_esvs
    from play_fair.interactions import estimate_interaction_memory, shapley_interactions
    engine, T, B, *_ = CASES[name]
    if quick: T, B = QUICK_FRAMES.get(T, T), QUICK_VIDEOS.get(B, B)
    s = QUICK if quick else PAPER
    torch.manual_seed(0)
    heads = [TRN(k, s['D'], s['H'], s['C']).eval() for k in range(1, s['m'] + 1)]
    tsn = FeatureTSN(s['D'], s['C']).eval()
    x = torch.randn(B, T, s['D']) if B > 1 else torch.randn(T, s['D'])
    priors = torch.rand(s['C']).softmax(0)
    compute = {
        'multiscale': lambda x: multiscale_esvs(heads, x, priors, progress=False),
        'tsn': lambda x: exact_esvs(tsn, x, priors, progress=False),
        'blackbox-mtrn': lambda x: exact_esvs(MultiscaleTRN(heads), x, priors, progress=False),
        'blackbox-tsn': lambda x: exact_esvs(lambda f: tsn(f), x, priors, progress=False),
        'brute-mtrn': lambda x: brute_force_esvs(characteristic_fn(MultiscaleTRN(heads), x, priors), x.shape[-2]),
        'interactions': lambda x: shapley_interactions(heads, x, priors, index='SII', progress=False),
    }[engine]
    esvs = (lambda x: multiscale_esvs(heads, x, priors, progress=False)) if engine == 'interactions' else None
    compute(x[..., :min(T, 12), :])                            # warm-up: one-time initialisation of kernels and pools
    if esvs: esvs(x[..., :min(T, 12), :])
    baseline = psutil.Process().memory_info().rss
    walls, cpus, esv_walls = [], [], []
    while len(walls) < repeats and (not walls or walls[0] < 20):
        if esvs:                                               # the ESVs of the same clips, just before: same load
            wall = time.perf_counter(); esvs(x); esv_walls.append(time.perf_counter() - wall)
        cpu, wall = time.process_time(), time.perf_counter()
        compute(x)
        walls.append(time.perf_counter() - wall); cpus.append(time.process_time() - cpu)
    estimate = estimate_exact_memory(T, s['C'], n_videos=B, keep_levels=engine == 'multiscale',
                                     hidden_dim=s['H'] if engine == 'multiscale' else 0) if engine in ('multiscale', 'tsn') else None
    if engine == 'interactions': estimate = estimate_interaction_memory(T, s['C'], n_videos=B, keep_levels=True, hidden_dim=s['H'])
    return dict(name=name, engine=engine, T=T, B=B, wall=median(walls), cpu=median(cpus), runs=len(walls),
                esv_wall=median(esv_walls) if esv_walls else None,
                peak_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, baseline_gb=baseline / 2**30,
                estimate_gb=None if estimate is None else estimate / 2**30, threads=torch.get_num_threads())


def spawn(name, quick, repeats, timeout, threads=None):
    "Run a case in a fresh process; a dict with an `error` when it fails or runs out of time."
    cmd = [sys.executable, __file__, '--case', name, '--repeats', str(repeats)] + (['--quick'] if quick else [])
    if threads: cmd += ['--threads', str(threads)]
    try: out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired: return dict(name=name, error=f'over {timeout} s')
    if out.returncode: return dict(name=name, error=(out.stderr.strip().splitlines() or ['failed'])[-1][:80])
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt_time(r):
    if 'error' in r: return r['error']
    return f"{r['wall']:.3f} s" if r['wall'] < 10 else f"{r['wall']:.1f} s"


def table(results, quick):
    "Markdown table of the results, with targets and speed-ups."
    rows = ['| case | engine | T | videos | time (median) | CPU time | runs | peak RSS (GB) | estimate (GB) | target | met | speed-up |',
            '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for name, r in results.items():
        _, _, _, t_target, gb_target, ref = CASES[name]
        if 'error' in r:
            rows.append(f"| {name} | {ENGINES[CASES[name][0]]} | | | {r['error']} | | | | | | | |"); continue
        rate = f" ({r['B'] / r['wall']:.0f} videos/s)" if r['B'] > 1 else ''
        target, met = [], []
        if not quick and t_target: target.append(f"≤ {t_target} s"); met.append(r['wall'] <= t_target)
        if not quick and gb_target: target.append(f"≤ {gb_target} GB"); met.append(r['peak_gb'] <= gb_target)
        if not quick and name in RATE_TARGETS:
            target.append(f'≥ {RATE_TARGETS[name]} videos/s'); met.append(r['B'] / r['wall'] >= RATE_TARGETS[name])
        speed = ''
        if r.get('esv_wall'):
            ratio, most = r['wall'] / r['esv_wall'], RATIO_TARGETS.get(name)
            esv_rate = f", {r['B'] / r['esv_wall']:.0f} videos/s" if r['B'] > 1 else ''
            speed = f"{ratio:.2f}× the time of its ESVs alone ({fmt_time(dict(wall=r['esv_wall']))}{esv_rate})"
            if most and not quick: target.append(f'≤ {most}× its ESVs'); met.append(ratio <= most)
        if ref and ref in results and 'error' not in results[ref]:
            q = results[ref]
            speed = f"{(q['wall'] / q['B']) / (r['wall'] / r['B']):.0f}× vs {ref} ({fmt_time(q)} for {q['B']})"
        elif ref: speed = f"{ref}: {results.get(ref, {}).get('error', 'not run')}"
        est = '' if r['estimate_gb'] is None else f"{r['estimate_gb']:.2f}"
        rows.append(f"| {name} | {ENGINES[r['engine']]} | {r['T']} | {r['B']} | {fmt_time(r)}{rate} | {r['cpu']:.2f} s | "
                    f"{r['runs']} | {r['peak_gb']:.2f} (base {r['baseline_gb']:.2f}) | {est} | {', '.join(target)} | "
                    f"{'' if not met else 'yes' if all(met) else 'NO'} | {speed} |")
    return '\n'.join(rows)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--quick', action='store_true', help='tiny sizes, seconds; a smoke test')
    p.add_argument('--cases', default=','.join(CASES), help='comma-separated case names')
    p.add_argument('--repeats', type=int, default=None, help='runs per case, median reported (default 3, 1 with --quick)')
    p.add_argument('--timeout', type=int, default=600, help='seconds allowed per case')
    p.add_argument('--threads', type=int, default=None, help="torch threads (default: torch's own default)")
    p.add_argument('--case', help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.case: print(json.dumps(run_case(a.case, a.quick, a.repeats or 3, a.threads))); return
    names = [n for n in a.cases.split(',') if n]
    unknown = [n for n in names if n not in CASES]
    if unknown: p.error(f"unknown cases {unknown}; choose from {list(CASES)}")
    repeats = a.repeats or (1 if a.quick else 3)
    load0 = os.getloadavg()
    if a.quick: results = {n: run_case(n, True, repeats, a.threads) for n in names}
    else: results = {n: spawn(n, False, repeats, a.timeout, a.threads) for n in names}
    print(table(results, a.quick))
    threads = next((r['threads'] for r in results.values() if 'threads' in r), '?')
    print(f"\n{os.cpu_count()} CPUs, {threads} torch threads, load average {load0[0]:.1f} before and "
          f"{os.getloadavg()[0]:.1f} after (a load above the number of CPUs means other work shared the cores). "
          f"Sizes: {QUICK if a.quick else PAPER}.")
    failed = [n for n, r in results.items() if 'error' in r and not n.startswith('ref_')]
    if failed: sys.exit(f"cases failed: {failed}")


if __name__ == '__main__': main()
