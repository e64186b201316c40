"""Kill `compute-esvs` with SIGKILL at random moments, run it again each time, and check that the output never reads
as complete before it is, and that the final file equals an uninterrupted run's, video by video, bit for bit."""
import random, signal, subprocess, time
from pathlib import Path

import pytest

from batch_inputs import assert_same_results, compute_esvs_command, make_inputs
from play_fair.batch import compute_esvs_cli
from play_fair.cli import run_command

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


def kill_somewhere(cmd, parts, rng, mode):
    "Start a run and SIGKILL it: after a random delay, or once it has saved a random number of new chunks."
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    before = n_chunks(parts)
    if mode == 'time': time.sleep(rng.uniform(0.2, 3.0))
    else:
        target, deadline = before + rng.randint(1, 8), time.time() + 60
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
