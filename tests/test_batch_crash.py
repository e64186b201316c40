"""Kill `compute-esvs` with SIGKILL at random moments, run it again each time, and check that the output never reads
as complete before it is, and that the final file equals an uninterrupted run's, video by video, bit for bit; with
`--interactions`, that every chunk a killed run saved holds the right ESVs and pair terms, and the final file too."""
import random, signal, subprocess, time
from pathlib import Path

import h5py
import numpy as np
import pytest

from batch_inputs import assert_same_results, compute_esvs_command, make_inputs
from play_fair.batch import SplitFeatures, compute_esvs_cli
from play_fair.cli import run_command
from play_fair.results import INTERACTION_DATASETS, read_esvs

N_VIDEOS, CHUNK, N_FRAMES = 160, 2, 4
MIN_KILLS = 12


def arguments(inp, out, *extra):
    return [str(inp['spec']), str(inp['priors']), str(out), '--sample-n-frames', str(N_FRAMES),
            '--chunk-size', str(CHUNK), '--device', 'cpu', '--quiet', *extra]


def command(inp, out, *extra): return compute_esvs_command(*arguments(inp, out, *extra))


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp('crash')
    inp = make_inputs(root/'inputs', n_videos=N_VIDEOS, lengths=(2, 10), nan_videos=(7, 100))
    reference = root/'reference.h5'
    assert run_command(compute_esvs_cli, arguments(inp, reference)) == 0   # the same command, uninterrupted, in this process
    return inp, root, reference


def n_chunks(parts): return len(list(parts.glob('chunk-*.h5'))) if parts.exists() else 0


def kill_somewhere(cmd, parts, rng, mode, most_chunks=8):
    "Start a run and SIGKILL it: after a random delay, or once it has saved a random number (up to `most_chunks`) of new chunks."
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    before = n_chunks(parts)
    if mode == 'time': time.sleep(rng.uniform(0.2, 3.0))
    else:
        target, deadline = before + rng.randint(1, most_chunks), time.time() + 60
        while proc.poll() is None and n_chunks(parts) < target and time.time() < deadline: time.sleep(0.002)
        time.sleep(rng.uniform(0, 0.02))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return proc.returncode == -signal.SIGKILL


def test_sigkill_and_resume(runs):
    inp, root, reference = runs
    out = root/'killed.h5'
    parts = out.with_name(out.name + '.parts')
    cmd = command(inp, out)
    rng = random.Random(1234)
    kills, saved, completed = 0, [], 0
    for attempt in range(60):
        if kills >= MIN_KILLS: break
        kills += kill_somewhere(cmd, parts, rng, 'time' if attempt % 3 == 0 else 'chunks')
        saved.append(n_chunks(parts))
        assert {p.name for p in root.iterdir() if p.name.startswith('killed')} <= {'killed.h5', 'killed.h5.parts'}
        # the output is never there half-written: either absent, or complete and equal to the reference
        if out.exists():
            assert_same_results(out, reference)
            out.unlink()   # the run got to the end before a kill: start another one and go on killing
            completed += 1
    assert kills >= MIN_KILLS, f'only {kills} kills landed while the run was going'
    assert len(set(saved)) > 4, f'kills did not land at many different points: chunks saved {saved}'
    print(f'{kills} kills, at {len(set(saved))} different numbers of saved chunks; {completed} runs got to the end')
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert not parts.exists()
    assert_same_results(out, reference)


def test_other_arguments_are_refused(runs):
    inp, root, reference = runs
    out = root/'refused.h5'
    assert run_command(compute_esvs_cli, arguments(inp, out, '--stop-after', '2')) == 0
    cmd = command(inp, out)
    cmd[cmd.index('--sample-n-frames') + 1] = '3'
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 1
    assert p.stderr.startswith('error: ') and p.stderr.count('\n') == 1, p.stderr
    assert 'n_frames (4, now 3)' in p.stderr
    assert 'Traceback' not in p.stderr


PAIR_FLAGS = ('--interactions', '--interaction-index', 'k-SII', '--interaction-classes', '3')
PAIR_VIDEOS, PAIR_KILLS, PAIR_ATOL = 60, 5, 1e-7


def assert_same_pairs(got:dict, ref:dict, what:str):
    "The interaction datasets of two runs' results (dicts of arrays) agree: ids exactly, pair and frame terms within float tolerance."
    assert {k for k in INTERACTION_DATASETS if k in got} == {k for k in INTERACTION_DATASETS if k in ref}, what
    for k in INTERACTION_DATASETS:
        if k not in ref: continue
        assert got[k].shape == ref[k].shape, (what, k)
        if k == 'interaction_classes': assert got[k].tolist() == ref[k].tolist(), (what, k)
        else: np.testing.assert_allclose(got[k], ref[k], rtol=0, atol=PAIR_ATOL, equal_nan=True, err_msg=f'{what}: {k}')


def assert_saved_chunks_are_right(parts:Path, ref:dict, uids:np.ndarray):
    "Every chunk file a killed run left holds, for each of its videos, the uninterrupted run's ESVs and pair terms."
    row = {u: i for i, u in enumerate(ref['uids'])}
    for p in sorted(parts.glob('chunk-*.h5')):
        with h5py.File(p, 'r') as f:
            rows, t = [row[u] for u in uids[f['index'][:]]], f['esvs'].shape[1]
            assert f['esvs'][:].tobytes() == ref['esvs'][rows, :t].tobytes(), f'{p.name}: esvs'
            assert f['scores'][:].tobytes() == ref['scores'][rows].tobytes(), f'{p.name}: scores'
            assert 'interactions' in f or not rows, f'{p.name} has videos but no pair terms'
            got = {k: f[k][:] for k in INTERACTION_DATASETS if k in f}
            want = {k: ref[k][rows][(slice(None),) + (slice(0, t),) * (k != 'interaction_classes') * (2 if k == 'interactions' else 1)]
                    for k in got}
            assert_same_pairs(got, want, p.name)


def test_sigkill_and_resume_with_interactions(tmp_path_factory):
    root = tmp_path_factory.mktemp('crash-pairs')
    inp = make_inputs(root/'inputs', n_videos=PAIR_VIDEOS, lengths=(2, 10), nan_videos=(7,))
    reference = root/'reference.h5'
    assert run_command(compute_esvs_cli, arguments(inp, reference, *PAIR_FLAGS)) == 0
    ref, uids = read_esvs(reference), SplitFeatures(inp['features'], 'validation', N_FRAMES).uids
    assert ref['interactions'].shape[1:] == (N_FRAMES, N_FRAMES, 3) and 'frame_terms' in ref
    out = root/'killed.h5'
    parts = out.with_name(out.name + '.parts')
    cmd = command(inp, out, *PAIR_FLAGS)
    rng = random.Random(18)
    kills, saved = 0, []
    for attempt in range(20):
        if kills >= PAIR_KILLS: break
        kills += kill_somewhere(cmd, parts, rng, 'chunks', most_chunks=4)
        saved.append(n_chunks(parts))
        assert_saved_chunks_are_right(parts, ref, uids)
        if out.exists():   # complete before the kill: it must be the reference; start another run
            assert_same_results(out, reference)
            assert_same_pairs(read_esvs(out), ref, out.name)
            out.unlink()
    assert kills >= PAIR_KILLS, f'only {kills} kills landed while the run was going'
    assert len(set(saved)) > 2, f'kills did not land at different points: chunks saved {saved}'
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert not parts.exists()
    assert_same_results(out, reference)
    assert_same_pairs(read_esvs(out), ref, out.name)
