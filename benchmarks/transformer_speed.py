"""Clips per second of ESVs for video transformers (play_fair.video_transformers) and a temporal transformer.

    python benchmarks/transformer_speed.py             # the table: tiny VideoMAE, 8 groups exact, 16 groups at budgets 256/1,024
    python benchmarks/transformer_speed.py --quick     # a smoke run in seconds (one clip, one repeat)
    python benchmarks/transformer_speed.py --vit-b --device cuda   # a ViT-B-size VideoMAE (224², 16 frames), random weights

The tiny VideoMAE is `tiny_videomae`'s default architecture (64×64 frames, tubelets of 2 frames × 16×16 pixels,
3 layers of width 96); 16-frame clips have 8 temporal groups (players), 32-frame clips 16. Weights are random: the
speed does not depend on them. Exact ESVs evaluate all 2^G − 1 non-empty coalitions; the approximate engine
spends `budget` evaluations per clip. Times are the median of `--repeats` runs, in float32, default torch threads;
CPU seconds (user + system of this process) say how much of the wall time was spent waiting for cores on a shared machine.
"""
import argparse, time
from statistics import median


def cases(args):
    "(name, model factory, frames, engine, budget) of every row."
    if args.vit_b: return [('ViT-B VideoMAE, 16 frames (8 groups)', dict(image_size=224, hidden_size=768, layers=12, heads=12, num_frames=16), 'exact', None)]
    tiny16, tiny32 = dict(num_frames=16), dict(num_frames=32)
    rows = [('tiny VideoMAE, 16 frames (8 groups)', tiny16, 'exact', None)]
    if not args.quick:
        rows += [('tiny VideoMAE, 32 frames (16 groups)', tiny32, 'approximate', 256),
                 ('tiny VideoMAE, 32 frames (16 groups)', tiny32, 'approximate', 1024)]
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='one clip, one repeat, only the exact row')
    parser.add_argument('--vit-b', action='store_true', help='a ViT-B-size VideoMAE instead of the tiny one')
    parser.add_argument('--clips', type=int, default=4, help='clips per measurement')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--max-batch-size', type=int, default=64, help='clips per forward pass')
    parser.add_argument('--method', default='surrogate', help='approximate method (play_fair.approximate.METHODS)')
    args = parser.parse_args()
    if args.quick: args.clips, args.repeats = 1, 1
    import numpy as np, torch
    from play_fair.approximate import approximate_esvs
    from play_fair.esv import exact_esvs
    from play_fair.models import machine_description
    from play_fair.video_transformers import tiny_videomae
    print(f"machine: {machine_description()}; device {args.device}; torch threads {torch.get_num_threads()}")
    print(f"{'model':40s} {'engine':22s} {'evaluations/clip':>16s} {'s/clip':>8s} {'CPU s/clip':>10s} {'clips/s':>8s}")
    for name, arch, engine, budget in cases(args):
        size = arch.get('image_size', 64)
        model = tiny_videomae([str(c) for c in range(174)], **arch).eval()
        model.max_batch_size = args.max_batch_size
        frames = np.random.default_rng(0).integers(0, 256, (args.clips, arch['num_frames'], size, size, 3), dtype=np.uint8)
        players, priors = model.players(frames), torch.full((174,), 1 / 174)
        def run():
            if engine == 'exact': return exact_esvs(model, players, priors, device=args.device, max_memory=2**40)
            return approximate_esvs(model, players, priors, budget=budget, method=args.method, device=args.device)
        times, cpu = [], []
        for _ in range(args.repeats):
            if args.device.startswith('cuda'): torch.cuda.synchronize()
            start, start_cpu = time.perf_counter(), time.process_time(); result = run()
            if args.device.startswith('cuda'): torch.cuda.synchronize()
            times.append(time.perf_counter() - start); cpu.append(time.process_time() - start_cpu)
        per_clip = median(times) / args.clips
        label = 'exact' if engine == 'exact' else f'approx. {args.method} {budget}'
        print(f"{name:40s} {label:22s} {result.n_evaluations:16d} {per_clip:8.2f} {median(cpu) / args.clips:10.2f} {1 / per_clip:8.3f}", flush=True)


if __name__ == '__main__': main()
