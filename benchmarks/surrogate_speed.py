"""Wall time of the default approximate ESV method on a paper-size multiscale TRN, against the video's length.

    python benchmarks/surrogate_speed.py                                   # T = 16..256, budget 4096, 1 and 2 threads
    python benchmarks/surrogate_speed.py --baseline /path/to/other/tree    # the same, interleaved with another checkout

The model is `MultiscaleTRN([TRN(s, 256, 256, 174) for s in 1..8])` with random weights, on Gaussian features. Each
measurement runs in its own process (the imported play_fair is that of the tree named, through PYTHONPATH), so two
trees are timed alternately under the same load; the table shows medians and, with a baseline, baseline / this tree.
"""
import argparse, json, os, subprocess, sys
from pathlib import Path
from statistics import median

ONE = '''
import json, sys, time, torch
import play_fair
from play_fair.models import TRN, MultiscaleTRN
from play_fair.approximate import approximate_esvs
T, threads, budget, seed = (int(a) for a in sys.argv[1:5])
torch.set_num_threads(threads)
torch.manual_seed(0)
model = MultiscaleTRN([TRN(s, 256, 256, 174).eval() for s in range(1, 9)]).eval()
x, priors = torch.randn(T, 256), torch.full((174,), 1 / 174)
start = time.perf_counter()
approximate_esvs(model, x, priors, budget=budget, seed=seed)
print(json.dumps([time.perf_counter() - start, play_fair.__file__]))
'''


def seconds(tree:str, T:int, threads:int, budget:int, seed:int) -> float:
    "One timed run of `approximate_esvs` in a fresh process importing play_fair from `tree`."
    env = {**os.environ, 'PYTHONPATH': str(tree), 'OMP_NUM_THREADS': str(threads)}
    out = subprocess.run([sys.executable, '-c', ONE, str(T), str(threads), str(budget), str(seed)], env=env, cwd=tree,
                         capture_output=True, text=True, check=True)        # cwd: `-c` puts it first on sys.path
    took, where = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(where).resolve().is_relative_to(Path(tree).resolve()), f'{tree} imported play_fair from {where}'
    return took


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--frames', default='16,32,64,128,256')
    p.add_argument('--threads', default='1,2')
    p.add_argument('--budget', type=int, default=4096)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--baseline', default=None, help='another checkout to time alternately with this one')
    a = p.parse_args(argv)
    here = Path(__file__).resolve().parents[1]
    trees = {'this': here, **({'baseline': Path(a.baseline).resolve()} if a.baseline else {})}
    loads = [os.getloadavg()[0]]
    print(f'| T | threads | ' + ' | '.join(f'{name} s' for name in trees) + (' | baseline / this |' if a.baseline else ' |'))
    print('| --- | --- |' + ' --- |' * (len(trees) + bool(a.baseline)))
    for threads in (int(t) for t in a.threads.split(',')):
        for T in (int(t) for t in a.frames.split(',')):
            times = {name: [] for name in trees}
            for r in range(a.repeats):
                for name, tree in trees.items(): times[name].append(seconds(tree, T, threads, a.budget, r))
                loads.append(os.getloadavg()[0])
            med = {name: median(v) for name, v in times.items()}
            ratio = f' | {med["baseline"] / med["this"]:.2f}x |' if a.baseline else ' |'
            print(f'| {T} | {threads} | ' + ' | '.join(f'{v:.2f}' for v in med.values()) + ratio, flush=True)
    print(f'\nbudget {a.budget}, median of {a.repeats}; 1-minute load average {min(loads):.1f}..{max(loads):.1f}; '
          f'{os.cpu_count()} CPUs')


if __name__ == '__main__':
    main()
