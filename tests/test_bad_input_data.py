"""Bad input to gulping and feature extraction, as a user meets it from the shell: a video cut short, arguments that
would gulp nothing sensible, an entry without a template, a split of which nothing can be gulped, a damaged gulp chunk
or meta file. Each is refused in one sentence (exit 1) or skipped, counted and named, and nothing wrong is stored."""
import io, json, shutil
from contextlib import redirect_stderr, redirect_stdout

import h5py
import numpy as np
import pytest

from play_fair.cli import run_command
from play_fair.data import GulpVideoDataset, VideoDecodeError, generate_something_synthetic, gulp_ssv2_cli, read_video
from play_fair.features import FeatureDataset, extract_features_cli
from play_fair.models import SmallCNN, save_backbone


def run(command, argv):
    "Exit status, stdout and stderr of a command run as the shell would."
    with redirect_stdout(io.StringIO()) as out, redirect_stderr(io.StringIO()) as err: status = run_command(command, argv)
    return status, out.getvalue(), err.getvalue()


def one_sentence(err):
    "The error line a command printed, checked to be one sentence."
    lines = [l for l in err.splitlines() if l.startswith('error: ')]
    assert len(lines) == 1 and lines[0].endswith('.') and 'Traceback' not in err, err
    return lines[0]


def partial_dirs(out_dir):
    return [p for p in out_dir.parent.iterdir() if p.name.startswith(f'.{out_dir.name}.')]


@pytest.fixture(scope='module')
def synthetic(tmp_path_factory):
    "Four training videos of 48 to 56 frames, in SSv2's layout."
    return generate_something_synthetic(tmp_path_factory.mktemp('synth'), 4, 0, min_frames=48, max_frames=56, n_workers=1, progress=False)


def copy_dataset(synthetic, tmp_path):
    root = tmp_path/'data'
    shutil.copytree(synthetic, root)
    return root


def gulp(root, out, *more):
    return run(gulp_ssv2_cli, [root/'train.json', root/'videos', out, '--workers', 1, '--quiet', *more])


def gulped_uids(gulp_dir):
    return sorted(GulpVideoDataset(gulp_dir, mode='all').uids)


def test_a_truncated_video_is_skipped_not_gulped_short(synthetic, tmp_path):
    root = copy_dataset(synthetic, tmp_path)
    video = root/'videos'/'1.webm'
    full = len(read_video(video)[0])
    video.write_bytes(video.read_bytes()[:video.stat().st_size//2])  # an interrupted copy
    with pytest.raises(ValueError, match=f'decodes to \\d+ frames where its container says {full}; it is probably truncated'):
        read_video(video)
    with pytest.warns(UserWarning, match='skipped video 1'):
        status, out, _ = gulp(root, tmp_path/'gulp')
    assert status == 0 and 'gulped 3 videos' in out and 'skipped 1' in out, out
    summary = json.loads((tmp_path/'gulp'/'gulp_summary.json').read_text())
    assert 'probably truncated' in summary['skipped']['1'], summary
    assert gulped_uids(tmp_path/'gulp') == ['2', '3', '4']


@pytest.mark.parametrize('flag, value, says', [('--fps', 0, '--fps 0.0 is not a frame rate'), ('--fps', -8, '--fps -8.0 is not a frame rate'),
                                               ('--fps', 'nan', '--fps nan is not a frame rate'), ('--short-side', 0, '--short-side 0 is no size'),
                                               ('--videos-per-chunk', 0, '--videos-per-chunk 0 would put no video in a chunk')])
def test_arguments_that_would_gulp_nothing_sensible_are_refused(synthetic, tmp_path, flag, value, says):
    status, _, err = gulp(synthetic, tmp_path/'gulp', flag, value)
    assert status == 1 and says in one_sentence(err), err
    assert not (tmp_path/'gulp').exists() and not partial_dirs(tmp_path/'gulp')


@pytest.mark.parametrize('workers', [0, -1])
def test_no_worker_processes_gulps_in_this_process(synthetic, tmp_path, workers):
    status, out, _ = run(gulp_ssv2_cli, [synthetic/'train.json', synthetic/'videos', tmp_path/'gulp', '--workers', workers, '--quiet'])
    assert status == 0 and 'gulped 4 videos' in out, out
    assert gulped_uids(tmp_path/'gulp') == ['1', '2', '3', '4']


def test_an_entry_without_a_template_is_skipped_never_labelled_minus_one(synthetic, tmp_path):
    root = copy_dataset(synthetic, tmp_path)
    entries = json.loads((root/'train.json').read_text())
    del entries[1]['template']
    entries[2]['template'] = None
    (root/'train.json').write_text(json.dumps(entries))
    with pytest.warns(UserWarning, match='no template'):
        status, out, _ = gulp(root, tmp_path/'gulp')
    assert status == 0 and 'skipped 2' in out, out
    summary = json.loads((tmp_path/'gulp'/'gulp_summary.json').read_text())
    assert sorted(summary['skipped']) == ['2', '3'] and all('no template' in why for why in summary['skipped'].values())
    ds = GulpVideoDataset(tmp_path/'gulp', mode='all')
    assert sorted(ds.uids) == ['1', '4'] and (ds.labels >= 0).all(), ds.labels


def test_a_split_of_which_nothing_can_be_gulped_leaves_no_gulp_directory(synthetic, tmp_path):
    root = copy_dataset(synthetic, tmp_path)
    for p in (root/'videos').iterdir(): p.write_bytes(b'not a video')
    status, _, err = gulp(root, tmp_path/'gulp')
    assert status == 1 and 'none of the 4 videos listed in' in one_sentence(err) and 'could be gulped (video 1:' in err, err
    assert not (tmp_path/'gulp').exists() and not partial_dirs(tmp_path/'gulp')
    assert gulp(synthetic, tmp_path/'gulp')[0] == 0  # a good gulp there, then a bad one asked to replace it: the good one stays
    status, _, err = gulp(root, tmp_path/'gulp', '--overwrite')
    assert status == 1 and gulped_uids(tmp_path/'gulp') == ['1', '2', '3', '4'] and not partial_dirs(tmp_path/'gulp')


@pytest.fixture(scope='module')
def backbone(tmp_path_factory):
    path = tmp_path_factory.mktemp('backbone')/'backbone'
    save_backbone(SmallCNN(feature_dim=6, width=4), path)
    return path


def damaged_gulp(synthetic, tmp_path, keep):
    "A gulp directory of the four videos in one chunk, the chunk cut to its first `keep` fraction."
    assert gulp(synthetic, tmp_path/'gulp')[0] == 0
    chunk, = (tmp_path/'gulp').glob('data_*.gulp')
    chunk.write_bytes(chunk.read_bytes()[:int(chunk.stat().st_size*keep)])
    return tmp_path/'gulp'


def extract(gulp_dir, backbone, out):
    return run(extract_features_cli, [gulp_dir, backbone, out, '--device', 'cpu', '--precision', 'float32', '--quiet'])


def test_a_damaged_video_is_left_out_of_the_features_and_named(synthetic, backbone, tmp_path):
    gulp_dir = damaged_gulp(synthetic, tmp_path, 0.9)
    uids = GulpVideoDataset(gulp_dir, mode='all').uids
    lost = uids[-1]
    with pytest.raises(VideoDecodeError, match=f'video {lost} of .* cannot be decoded'):
        GulpVideoDataset(gulp_dir, mode='all')[lost]
    with pytest.warns(UserWarning, match=f'left 1 of the 4 videos .* out of .validation.: {lost}'):
        status, out, err = extract(gulp_dir, backbone, tmp_path/'features.h5')
    assert status == 0 and f'videos left out as they cannot be decoded (1): {lost}' in out, (out, err)
    features = FeatureDataset(tmp_path/'features.h5', 'validation', mode='all')
    assert features.uids == uids[:-1] and features.n_video_frames.tolist() == GulpVideoDataset(gulp_dir, mode='all').n_video_frames[:-1].tolist()
    with h5py.File(tmp_path/'features.h5', 'r') as f:
        assert f['validation'].attrs['complete'] and 'cannot be decoded' in json.loads(f['validation'].attrs['skipped'])[lost]
    status, out, _ = extract(gulp_dir, backbone, tmp_path/'features.h5')  # run again: complete, and says so
    assert status == 0 and f'videos left out as they cannot be decoded (1): {lost}' in out, out


def test_a_gulp_of_which_nothing_decodes_is_refused_and_not_marked_complete(synthetic, backbone, tmp_path):
    gulp_dir = damaged_gulp(synthetic, tmp_path, 0.01)
    status, _, err = extract(gulp_dir, backbone, tmp_path/'features.h5')
    assert status == 1 and 'none of the 4 videos of' in one_sentence(err) and 'cannot be decoded' in err, err
    with h5py.File(tmp_path/'features.h5', 'r') as f: assert not f['validation'].attrs.get('complete', False)
    with pytest.raises(ValueError, match='incomplete'): FeatureDataset(tmp_path/'features.h5', 'validation')


def test_a_meta_file_that_is_not_json_is_named(synthetic, backbone, tmp_path):
    assert gulp(synthetic, tmp_path/'gulp')[0] == 0
    meta, = (tmp_path/'gulp').glob('meta_*.gmeta')
    text = meta.read_text()
    meta.write_text(text[:14] + '\x01' + text[15:])
    with pytest.raises(ValueError, match=f'gulp meta file {meta} is not valid JSON \\(Invalid control character'):
        GulpVideoDataset(tmp_path/'gulp')
    status, _, err = extract(tmp_path/'gulp', backbone, tmp_path/'features.h5')
    assert status == 1 and f'gulp meta file {meta} is not valid JSON' in one_sentence(err) and 'gulp the split again' in err, err


def test_a_split_file_that_is_not_json_is_named(synthetic, tmp_path):
    root = copy_dataset(synthetic, tmp_path)
    text = (root/'train.json').read_text()
    (root/'train.json').write_text(text[:14] + '\x01' + text[15:])
    status, _, err = gulp(root, tmp_path/'gulp')
    assert status == 1 and f"labels file {root/'train.json'} is not valid JSON (Invalid control character" in one_sentence(err), err
    assert not (tmp_path/'gulp').exists()


def test_a_gulp_killed_mid_run_resumes_from_its_finished_chunks(synthetic, tmp_path):
    "kill -9 of gulp-ssv2 between chunks: the rerun keeps the chunks the killed run finished (their files untouched), refuses other "
    "arguments in one sentence saying how to start over, and ends with exactly the files of an uninterrupted run."
    import os, signal, subprocess, sys, time
    from pathlib import Path
    out, partial = tmp_path/'gulp', tmp_path/'.gulp.partial'
    code = ('import sys; from play_fair.cli import run_command; from play_fair.data import gulp_ssv2_cli; '
            'sys.exit(run_command(gulp_ssv2_cli, sys.argv[1:]))')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[1]), os.environ.get('PYTHONPATH', '')]))
    argv = [synthetic/'train.json', synthetic/'videos', out, '--workers', 0, '--videos-per-chunk', 1, '--quiet']
    p = subprocess.Popen([sys.executable, '-c', code, *map(str, argv)], env=env, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while p.poll() is None and time.time() < deadline and not any(partial.glob('done/chunk-*.json')): time.sleep(0.01)
    p.send_signal(signal.SIGKILL)
    p.wait()
    finished = sorted(partial.glob('done/chunk-*.json'))
    assert p.returncode == -signal.SIGKILL and 1 <= len(finished) < 4 and not out.exists(), 'the gulp must be killed mid-run'
    kept = {f.name: (f.stat().st_ino, f.stat().st_mtime_ns) for r in finished for i in [r.stem.split('-')[1]]
            for f in (partial/'gulp'/f'data_{i}.gulp', partial/'gulp'/f'meta_{i}.gmeta')}
    status, _, err = gulp(synthetic, out, '--videos-per-chunk', 1, '--fps', 4)
    assert status == 1 and f'delete {partial} to start over' in one_sentence(err) and 'fps (8.0, now 4.0)' in err, err
    with pytest.warns(UserWarning, match=f'resuming the interrupted gulp of {out}: {len(finished)} of its 4 chunks are already written'):
        status, _, err = gulp(synthetic, out, '--videos-per-chunk', 1)
    assert status == 0, err
    assert {name: (out/name).stat().st_ino for name in kept} == {name: ino for name, (ino, _) in kept.items()}, 'finished chunks must be kept, not rewritten'
    assert {name: (out/name).stat().st_mtime_ns for name in kept} == {name: t for name, (_, t) in kept.items()}, 'finished chunks must be kept, not rewritten'
    assert partial_dirs(out) == [], partial_dirs(out)
    assert gulp(synthetic, tmp_path/'reference', '--videos-per-chunk', 1)[0] == 0
    ref = tmp_path/'reference'
    assert sorted(q.name for q in out.iterdir()) == sorted(q.name for q in ref.iterdir())  # gulpio2's chunk numbering and meta files
    for q in ref.iterdir(): assert (out/q.name).read_bytes() == q.read_bytes(), q.name
    got, want = GulpVideoDataset(out, mode='all'), GulpVideoDataset(ref, mode='all')
    assert got.uids == want.uids
    for uid in want.uids: assert np.array_equal(got[uid][0], want[uid][0]), uid


def test_a_gulp_from_an_earlier_version_killed_mid_run_is_cleaned_up(synthetic, tmp_path):
    (tmp_path/'.gulp.partial-999999999-abcd').mkdir()
    with pytest.warns(UserWarning, match='left by an interrupted gulp of gulp that cannot be resumed'):
        assert gulp(synthetic, tmp_path/'gulp')[0] == 0
    assert partial_dirs(tmp_path/'gulp') == []


def test_a_second_gulp_of_the_same_directory_is_locked_out(synthetic, tmp_path):
    import fcntl
    (tmp_path/'.gulp.partial').mkdir()
    with open(tmp_path/'.gulp.partial'/'lock', 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        status, _, err = gulp(synthetic, tmp_path/'gulp')
    assert status == 1 and f"another gulp of {tmp_path/'gulp'} is running" in one_sentence(err), err
    assert gulp(synthetic, tmp_path/'gulp')[0] == 0
