"""How fast the demo's training steps run: the small CNN backbone in float32 and in bfloat16 mixed precision
(training step and feature extraction, frames per second), and the nine temporal heads trained one after another
against `train_heads` with two worker processes.

    python benchmarks/training_speed.py            # random frames, 64x64, batches of 16 clips of 8 frames; 60 epochs of heads
    python benchmarks/training_speed.py --quick    # fewer repeats and head epochs, a smoke run

Medians of `--repeats` timed runs after a warm-up; compare the ratios of one run (shared machines are noisy).
"""
import argparse, copy, sys, time
from statistics import median

import torch
import torch.nn.functional as F

from play_fair.models import TRN, FeatureTSN, autocast, frames_to_tensor, make_backbone, resolve_precision
from play_fair.training import train_head, train_heads


def backbone_rows(precisions, repeats, batches=8, clips=16, segments=8, size=64):
    "Frames per second of a training step (forward, backward, AdamW) and of extraction, per precision."
    g = torch.Generator().manual_seed(0)
    frames = [torch.randint(0, 256, (clips, segments, size, size, 3), dtype=torch.uint8, generator=g) for _ in range(batches)]
    labels = torch.randint(0, 12, (clips,), generator=g)
    rows = []
    for precision in precisions:
        torch.manual_seed(0)
        backbone, head = make_backbone('small_cnn', feature_dim=256, width=16), TRN(segments, 256, 256, 12)
        opt = torch.optim.AdamW([*backbone.parameters(), *head.parameters()], 1e-3)
        def train_pass():
            backbone.train(); head.train()
            for x in frames:
                with autocast('cpu', precision): features = backbone(frames_to_tensor(x, backbone.normalisation).flatten(0, 1)).float()
                loss = F.cross_entropy(head(features.unflatten(0, x.shape[:2])), labels)
                opt.zero_grad(); loss.backward(); opt.step()
        @torch.inference_mode()
        def extract_pass():
            backbone.eval()
            for x in frames:
                with autocast('cpu', precision): backbone(frames_to_tensor(x.flatten(0, 1), backbone.normalisation)).float()
        n = batches * clips * segments
        for name, fn in (('training step', train_pass), ('extraction', extract_pass)):
            fn()  # warm-up
            times = []
            for _ in range(repeats):
                start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
            rows.append((name, precision, n / median(times)))
    return rows


def head_rows(epochs, repeats, n_videos=2000, frames=(24, 64), D=256, C=12):
    "Seconds to train a TSN and TRN_1..8 one after another, and with `train_heads` on two workers."
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(frames[0], frames[1] + 1, (n_videos,), generator=g)
    data = ([torch.randn(int(t), D, generator=g) for t in lengths], torch.randint(0, C, (n_videos,), generator=g))
    torch.manual_seed(0)
    heads = [FeatureTSN(D, C), *(TRN(k, D, 256, C) for k in range(1, 9))]
    n_frames, seeds = [8, *range(1, 9)], list(range(9))
    def sequential():
        for h, n, s in zip(copy.deepcopy(heads), n_frames, seeds): train_head(h, data, n_frames=n, epochs=epochs, seed=s, progress=False)
    def parallel():
        train_heads(copy.deepcopy(heads), data, seeds, n_frames=n_frames, epochs=epochs, n_workers=2, progress=False)
    rows = []
    for name, fn in (('one after another', sequential), ('train_heads, 2 workers', parallel)):
        times = []
        for _ in range(repeats):
            start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
        rows.append((name, median(times)))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--quick', action='store_true', help='1 repeat, 5 head epochs')
    p.add_argument('--repeats', type=int, help='timed runs per row (default: 5, or 1 with --quick)')
    p.add_argument('--head-epochs', type=int, help='epochs per head (default: 60 as in the demo, or 5 with --quick)')
    a = p.parse_args()
    repeats = a.repeats or (1 if a.quick else 5)
    head_epochs = a.head_epochs or (5 if a.quick else 60)
    native = resolve_precision('cpu')
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
          f"{torch.backends.cpu.get_cpu_capability()}, precision 'auto' is {native}\n")
    rows = backbone_rows(['float32', 'bfloat16'], repeats)
    print(f"{'small CNN, 64x64 frames':<24} {'precision':<10} {'frames/s':>9} {'vs float32':>11}")
    base = {name: fps for name, precision, fps in rows if precision == 'float32'}
    for name, precision, fps in rows:
        print(f"{name:<24} {precision:<10} {fps:>9,.0f} {fps / base[name]:>10.2f}x")
    head_repeats = 1 if a.quick else min(repeats, 3)
    print(f"\n{'TSN + TRN_1..8, ' + str(head_epochs) + ' epochs':<28} {'seconds':>8} {'speed-up':>9}")
    rows = head_rows(head_epochs, head_repeats)
    for name, secs in rows:
        print(f"{name:<28} {secs:>8.1f} {rows[0][1] / secs:>8.2f}x")


if __name__ == '__main__':
    sys.exit(main())
