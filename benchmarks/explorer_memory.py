"""How the ESV explorer copes with a results file the size of the Something-Something v2 validation set: 25,000 videos
in each of 8 groups (n = 1..8 sampled frames) and 20 classes, so the ESVs alone take 72 MB.

    python benchmarks/explorer_memory.py            # 25,000 videos per group
    python benchmarks/explorer_memory.py --quick    # 2,500 videos per group, a smoke run

`CollatedResults` (play_fair.results) keeps a group's ids and labels in memory and reads one video's numbers at a
time; the explorer (play_fair.dashboard) builds on it. The table gives the time to read a video (opening the file and
loading a group's ids and labels included, then with them loaded), the peak memory Python allocates for reading 11
videos (tracemalloc; h5py's own buffers are not traced), next to the size of one group's ESVs, and the time to open
the explorer on the file and to change the video it shows (no videos folder, so every video shows the placeholder).
"""
import argparse, os, platform, sys, tempfile, time, tracemalloc
from pathlib import Path

import numpy as np

from play_fair.dashboard import ESVExplorer
from play_fair.results import CollatedResults, write_collated

N_MAX = 8


def write_big(path, n_videos, n_classes, seed=1):
    "A collated file of `n_videos` videos per group for n = 1..8, and the ESVs of one video of the n = 8 group."
    rng = np.random.default_rng(seed)
    runs = {n: dict(uids=[f'{i:06d}' for i in range(n_videos)], labels=rng.integers(0, n_classes, n_videos),
                    frame_idx=np.tile(np.arange(n), (n_videos, 1)), video_lengths=np.full(n_videos, 48),
                    scores=np.full((n_videos, n_classes), 1 / n_classes),
                    esvs=rng.normal(0, 0.01, (n_videos, n, n_classes)).astype(np.float32),
                    priors=np.full(n_classes, 1 / n_classes)) for n in range(1, N_MAX + 1)}
    uid = f'{n_videos - 7:06d}'
    write_collated(path, runs, [f'class {c}' for c in range(n_classes)])
    return uid, runs[N_MAX]['esvs'][n_videos - 7].copy()


def measure_reading(path, uid, want, n_classes):
    "Seconds per video for 11 videos (cold: file opened and ids loaded first; warm: ids loaded), peak MiB while reading."
    tracemalloc.start()
    t0 = time.perf_counter()
    with CollatedResults(path) as r:
        picks = [r.examples(N_MAX, c)[5] for c in range(min(10, n_classes))] + [uid]
        videos = [r.video(N_MAX, u) for u in picks]
        cold = (time.perf_counter() - t0) / len(picks)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        t0 = time.perf_counter()
        for u in picks: r.video(N_MAX, u)
        warm = (time.perf_counter() - t0) / len(picks)
    assert np.allclose(videos[-1].esvs, want, atol=1e-6), "the file gave back other ESVs than were written"
    return cold, warm, peak, len(picks)


def measure_explorer(path, uid, want, n_classes, no_videos):
    "Seconds to open the explorer, and per change of video (class, example, typed id)."
    t0 = time.perf_counter()
    ex = ESVExplorer(path, no_videos)
    t_open = time.perf_counter() - t0
    changes, t0 = 0, time.perf_counter()
    for c in range(min(10, n_classes)):
        ex.class_dd.value = c; ex.example.value = 5
        changes += 2
    ex.uid_box.value = uid
    changes += 1
    t_change = (time.perf_counter() - t0) / changes
    assert ex.uid == uid and np.allclose(ex.trace('esv').y, want[:, ex.vr.label], atol=1e-6), "the explorer shows other ESVs"
    return t_open, t_change, changes


def cpu_name():
    "The CPU's model name, where Linux says it."
    try: return next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): return platform.processor() or platform.machine()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--quick', action='store_true', help='2,500 videos per group instead of 25,000')
    p.add_argument('--videos', type=int, help='videos per group (default 25,000; 2,500 with --quick)')
    p.add_argument('--classes', type=int, default=20, help='number of classes (default 20)')
    a = p.parse_args(argv)
    n_videos = a.videos or (2_500 if a.quick else 25_000)
    with tempfile.TemporaryDirectory(prefix='pf-explorer-bench-') as tmp:
        path = Path(tmp)/'big.h5'
        t0 = time.perf_counter()
        uid, want = write_big(path, n_videos, a.classes)
        t_write = time.perf_counter() - t0
        cold, warm, peak, k = measure_reading(path, uid, want, a.classes)
        t_open, t_change, changes = measure_explorer(path, uid, want, a.classes, Path(tmp)/'no-videos')
        size = path.stat().st_size / 2**20
    group_mib = n_videos * N_MAX * a.classes * 4 / 2**20
    print(f"results file: {n_videos:,} videos in each of {N_MAX} groups, {a.classes} classes, {size:.0f} MiB "
          f"(written in {t_write:.1f} s); the ESVs of the n = {N_MAX} group take {group_mib:.1f} MiB\n")
    print("| measure | value |")
    print("|---|---|")
    print(f"| reading a video, file opened and the group's ids loaded first (mean of {k}) | {cold * 1000:.1f} ms |")
    print(f"| reading a video, ids loaded (mean of {k}) | {warm * 1000:.2f} ms |")
    print(f"| peak memory allocated reading {k} videos | {peak:.1f} MiB (one group's ESVs: {group_mib:.1f} MiB) |")
    print(f"| opening the explorer | {t_open:.2f} s |")
    print(f"| changing the video shown (mean of {changes}) | {t_change * 1000:.0f} ms |")
    print(f"\n{cpu_name()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == '__main__': main()
