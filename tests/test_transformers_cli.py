"""compute-esvs on a Hugging Face video transformer: a tiny random VideoMAE saved with save_pretrained and a tiny gulp
directory, run as the shell would (in this process, through `run_command`), against the exact engine on the same clips."""
import contextlib, io, json, shutil

import h5py
import numpy as np
import pytest
import torch

pytest.importorskip('transformers')
from play_fair.batch import compute_esvs_cli
from play_fair.clip_batch import VideoFolder
from play_fair.cli import run_command
from play_fair.data import CLASSES, generate_something_synthetic, gulp_ssv2
from play_fair.features import write_features
from play_fair.models import TemporalTransformer, load_model, save_model
from play_fair.multiscale import exact_model_esvs
from play_fair.priors import load_priors, save_priors
from play_fair.results import read_esvs
from play_fair.video_transformers import ClipDataset, save_video_transformer, tiny_videomae


def cli(*args):
    "Exit status and stderr of compute-esvs with these arguments."
    with contextlib.redirect_stderr(io.StringIO()) as err, contextlib.redirect_stdout(io.StringIO()):
        status = run_command(compute_esvs_cli, [str(a) for a in args])
    return status, err.getvalue()


def one_error(status, err):
    "The single `error: ...` sentence of a failed command."
    assert status == 1, (status, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), err
    return lines[0]


@pytest.fixture(scope='module')
def work(tmp_path_factory):
    "Five gulped validation videos, a random VideoMAE of 3 groups saved with save_pretrained, and uniform priors."
    root = tmp_path_factory.mktemp('vt')
    generate_something_synthetic(root/'data', n_train=0, n_val=5, size=32, progress=False)
    gulp_ssv2(root/'data'/'validation.json', root/'data'/'videos', root/'gulp', progress=False)
    model = tiny_videomae(CLASSES, image_size=32, num_frames=6, tubelet_size=2, hidden_size=16, layers=1, heads=2)
    save_video_transformer(model, root/'videomae')
    save_priors(np.full(len(CLASSES), 1 / len(CLASSES)), CLASSES, root/'priors.csv')
    return root


def test_compute_esvs_equals_the_exact_engine_on_the_same_clips(work):
    status, err = cli(work/'videomae', work/'priors.csv', work/'esvs.h5', '--gulp-dir', work/'gulp', '--device', 'cpu', '--quiet')
    assert status == 0, err
    res = read_esvs(work/'esvs.h5')
    model = load_model(work/'videomae', device='cpu')
    clips = ClipDataset(work/'gulp', model)
    x = torch.stack([clips[i][0] for i in range(len(clips))])
    expected = exact_model_esvs(model, x, load_priors(work/'priors.csv', CLASSES), device='cpu')
    assert res['esvs'].shape == (5, model.n_groups, len(CLASSES))
    np.testing.assert_allclose(res['esvs'], expected.values.numpy(), rtol=0, atol=1e-5)
    np.testing.assert_allclose(res['scores'], expected.scores.numpy(), rtol=0, atol=1e-5)
    assert res['attrs']['n_frames'] == model.n_groups and res['attrs']['model'] == 'videomae'
    with h5py.File(work/'esvs.h5') as f: groups = f['group_frame_idx'][:]
    for row, uid in enumerate(res['uids']):
        frame_idx = clips[clips.videos.uids.index(uid)][1]['frame_idx']
        assert np.array_equal(groups[row].ravel(), frame_idx), "each group's frames are the clip's frames, in order"
        assert np.array_equal(res['frame_idx'][row], frame_idx[::model.tubelet]), "a group's sampled frame is its first"


def test_stop_after_and_rerun_resume_to_the_same_file(work):
    args = [work/'videomae', work/'priors.csv', work/'resumed.h5', '--gulp-dir', work/'gulp', '--chunk-size', 2, '--device', 'cpu',
            '--quiet']
    assert cli(*args, '--stop-after', 1)[0] == 0
    assert not (work/'resumed.h5').exists() and len(list((work/'resumed.h5.parts').glob('chunk-*.h5'))) == 1
    assert cli(*args)[0] == 0
    whole, resumed = read_esvs(work/'esvs.h5'), read_esvs(work/'resumed.h5')
    assert list(resumed['uids']) == list(whole['uids'])
    np.testing.assert_allclose(resumed['esvs'], whole['esvs'], rtol=0, atol=1e-6)


def test_the_model_digest_covers_the_preprocessing(work):
    model = work/'edited'
    shutil.copytree(work/'videomae', model)
    args = [model, work/'priors.csv', work/'edited.h5', '--gulp-dir', work/'gulp', '--chunk-size', 2, '--device', 'cpu', '--quiet']
    assert cli(*args, '--stop-after', 1)[0] == 0
    prep = json.loads((model/'preprocessor_config.json').read_text())
    (model/'preprocessor_config.json').write_text(json.dumps(prep | {'image_mean': [0.4, 0.4, 0.4]}))
    assert 'model (file contents differ)' in one_error(*cli(*args))


def test_approximate_esvs_of_a_video_transformer(work):
    status, err = cli(work/'videomae', work/'priors.csv', work/'approx.h5', '--gulp-dir', work/'gulp', '--approximate',
                      '--budget', 32, '--method', 'permutation', '--device', 'cpu', '--quiet')
    assert status == 0, err
    res, exact = read_esvs(work/'approx.h5'), read_esvs(work/'esvs.h5')
    assert res['attrs']['method'] == 'approximate/permutation' and res['stderr'] is not None
    # permutation sampling keeps efficiency: each video's ESVs sum to its score minus the priors
    np.testing.assert_allclose(res['esvs'].sum(1), exact['scores'] - exact['priors'], rtol=0, atol=1e-5)


def test_inputs_of_the_wrong_kind_are_one_sentence(work):
    err = one_error(*cli(work/'videomae', work/'priors.csv', work/'x.h5', '--features', work/'priors.csv'))
    assert 'video transformer, which reads frames, not features' in err and '--gulp-dir' in err
    err = one_error(*cli(work/'videomae', work/'priors.csv', work/'x.h5'))
    assert '--gulp-dir DIR' in err
    save_model(TemporalTransformer(8, len(CLASSES), d_model=8, n_heads=2, dim_feedforward=8), work/'tt', class_names=CLASSES)
    err = one_error(*cli(work/'tt', work/'priors.csv', work/'x.h5', '--gulp-dir', work/'gulp'))
    assert 'per-frame features' in err and '--features' in err


def test_a_broken_temporal_transformer_config_is_one_sentence(work):
    broken = work/'tt-broken'
    save_model(TemporalTransformer(8, len(CLASSES), d_model=8, n_heads=2, dim_feedforward=8), broken, class_names=CLASSES)
    config = json.loads((broken/'config.json').read_text())
    (broken/'config.json').write_text(json.dumps(config | {'n_heads': 'two'}))
    with pytest.raises(ValueError, match='needs a positive whole number "n_heads"'): load_model(broken)
    write_features(work/'features.h5', 'validation', [np.zeros((4, 8), np.float32)], [0])
    err = one_error(*cli(broken, work/'priors.csv', work/'x.h5', '--features', work/'features.h5'))
    assert 'needs a positive whole number "n_heads"' in err


def run_once(work, name, *inputs):
    "The results file of a run on these inputs, computed the first time a test asks for it."
    if not (work/name).exists():
        status, err = cli(work/'videomae', work/'priors.csv', work/name, *inputs, '--device', 'cpu', '--quiet')
        assert status == 0, err
    return work/name


def folder_run(work):
    "The run on the folder of videos the gulp was made from, with its split file."
    return run_once(work, 'folder.h5', '--videos-dir', work/'data'/'videos', '--split-json', work/'data'/'validation.json')


def test_a_folder_of_videos_gives_the_gulps_clips_and_esvs(work):
    """The folder the gulp was made from, read with its split file: the same videos, labels, lengths and group frames, and ESVs
    that differ from the gulp's only by the JPEG compression of gulped frames; exactly the engine's on the decoded clips."""
    gulped, folder = read_esvs(run_once(work, 'esvs.h5', '--gulp-dir', work/'gulp')), read_esvs(folder_run(work))
    order = [list(folder['uids']).index(u) for u in gulped['uids']]
    for k in ('labels', 'video_lengths', 'frame_idx'): assert np.array_equal(folder[k][order], gulped[k]), k
    with h5py.File(work/'esvs.h5') as g, h5py.File(work/'folder.h5') as f:
        assert np.array_equal(f['group_frame_idx'][:][order], g['group_frame_idx'][:])
    model = load_model(work/'videomae', device='cpu')
    clips = ClipDataset(VideoFolder(work/'data'/'videos', work/'data'/'validation.json'), model)
    x = torch.stack([clips[clips.videos.index(u)][0] for u in folder['uids']])
    expected = exact_model_esvs(model, x, load_priors(work/'priors.csv', CLASSES), device='cpu')
    np.testing.assert_allclose(folder['esvs'], expected.values.numpy(), rtol=0, atol=1e-5)
    scale = np.abs(gulped['esvs']).max()
    assert np.abs(folder['esvs'][order] - gulped['esvs']).max() < 0.1 * scale, "JPEG changes the ESVs a little, not wholesale"


def test_a_folder_without_a_split_file_is_every_video_unlabelled(work):
    status, err = cli(work/'videomae', work/'priors.csv', work/'all.h5', '--videos-dir', work/'data'/'videos', '--fps', 8,
                      '--device', 'cpu', '--quiet')
    assert status == 0, err
    res = read_esvs(work/'all.h5')
    assert sorted(res['uids']) == sorted(p.stem for p in (work/'data'/'videos').glob('*.webm'))
    assert (res['labels'] == -1).all()


def test_missing_and_undecodable_videos_are_skipped_with_their_reasons(work):
    root = work/'broken'
    shutil.copytree(work/'data', root)
    entries = json.loads((root/'validation.json').read_text())
    (root/'videos'/f"{entries[0]['id']}.webm").write_bytes(b'not a video')
    (root/'validation.json').write_text(json.dumps(entries + [{'id': 'lost', 'template': entries[1]['template']}]))
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()) as out:
        status = run_command(compute_esvs_cli, [str(a) for a in (work/'videomae', work/'priors.csv', work/'broken.h5',
                             '--videos-dir', root/'videos', '--split-json', root/'validation.json', '--device', 'cpu')])
    assert status == 0
    assert '4 videos done, 2 skipped' in out.getvalue() and '1 no video file lost.*' in out.getvalue(), out.getvalue()
    with h5py.File(work/'broken.h5') as f:
        skipped = dict(zip(f['skipped_uids'].asstr()[:], f['skipped_reasons'].asstr()[:]))
    assert set(skipped) == {str(entries[0]['id']), 'lost'} and 'cannot be decoded' in skipped[str(entries[0]['id'])]
    whole, part = read_esvs(folder_run(work)), read_esvs(work/'broken.h5')
    rows = [list(whole['uids']).index(u) for u in part['uids']]
    np.testing.assert_allclose(part['esvs'], whole['esvs'][rows], rtol=0, atol=1e-6)


def test_a_resumed_run_with_other_videos_is_refused(work):
    args = [work/'videomae', work/'priors.csv', work/'moved.h5', '--videos-dir', work/'data'/'videos', '--split-json',
            work/'data'/'validation.json', '--chunk-size', 2, '--device', 'cpu', '--quiet']
    assert cli(*args, '--stop-after', 1)[0] == 0
    assert 'fps (8.0, now 4.0)' in one_error(*cli(*args, '--fps', 4))
    moved = work/'moved-videos'
    shutil.copytree(work/'data'/'videos', moved)
    (moved/'extra.webm').write_bytes(next(moved.iterdir()).read_bytes())
    args[4] = moved  # the split's files are the same: a video of another split beside them changes nothing
    assert cli(*args, '--stop-after', 1)[0] == 0
    first, other = (moved/f"{e['id']}.webm" for e in json.loads((work/'data'/'validation.json').read_text())[:2])
    first.write_bytes(other.read_bytes() + b'\0')  # one of the split's videos replaced
    assert '--videos-dir (file contents differ)' in one_error(*cli(*args))


def test_video_inputs_in_the_wrong_combination_are_one_sentence(work):
    base = [work/'videomae', work/'priors.csv', work/'x.h5']
    err = one_error(*cli(*base, '--gulp-dir', work/'gulp', '--videos-dir', work/'data'/'videos'))
    assert '--gulp-dir' in err and '--videos-dir' in err and 'not both' in err
    err = one_error(*cli(*base, '--gulp-dir', work/'gulp', '--split-json', work/'data'/'validation.json'))
    assert '--split-json' in err and 'with --videos-dir' in err
    err = one_error(*cli(*base, '--gulp-dir', work/'gulp', '--fps', 4))
    assert '--fps' in err and 'with --videos-dir' in err
    err = one_error(*cli(*base, '--videos-dir', work/'nowhere'))
    assert 'does not exist' in err and '--videos-dir' in err
    err = one_error(*cli(*base, '--videos-dir', work/'data'/'videos', '--split-json', work/'nowhere.json'))
    assert 'does not exist' in err and '--split-json' in err
    save_model(TemporalTransformer(8, len(CLASSES), d_model=8, n_heads=2, dim_feedforward=8), work/'tt-videos', class_names=CLASSES)
    err = one_error(*cli(work/'tt-videos', work/'priors.csv', work/'x.h5', '--videos-dir', work/'data'/'videos'))
    assert 'per-frame features' in err and '--videos-dir is for Hugging Face' in err
