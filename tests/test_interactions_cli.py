"""`compute-esvs --interactions` as a shell user runs it (in-process, through `run_command`): the stored pair terms are
the engine's, a stopped run resumes to the same file, other interaction flags are refused on resume, the top-K
classes are the right ones, and `collate-esvs` carries everything to the explorer."""
import contextlib, io

import numpy as np
import pytest
import torch

from batch_inputs import make_inputs
from play_fair.batch import SplitFeatures, compute_esvs_cli
from play_fair.cli import run_command
from play_fair.interactions import shapley_interactions
from play_fair.models import load_model
from play_fair.priors import load_priors
from play_fair.results import CollatedResults, collate_esvs_cli, read_esvs

PAIR_ARRAYS = ('interactions', 'frame_terms', 'interaction_classes', 'interaction_stderr', 'frame_stderr')


def compute(inp, out, *extra):
    "Run compute-esvs; the exit status and what it wrote to stderr."
    with contextlib.redirect_stderr(io.StringIO()) as err:
        rc = run_command(compute_esvs_cli, [inp['spec'], inp['priors'], out, '--chunk-size', 3, '--quiet', *extra])
    return rc, err.getvalue()


@pytest.fixture(scope='module', params=['mtrn', 'tsn'])
def inputs(request, tmp_path_factory):
    return make_inputs(tmp_path_factory.mktemp(request.param), n_videos=10, lengths=(2, 7), kind=request.param, C=5)


def engine_results(inp, res, n_frames, index):
    "The interaction engine on the videos a results file holds, read the way a run samples them."
    split = SplitFeatures(inp['features'], 'validation', n_frames)
    pos = {u: i for i, u in enumerate(split.uids)}
    x, _ = split.read(np.array([pos[u] for u in res['uids']]))
    return shapley_interactions(load_model(inp['model'], device='cpu'), torch.from_numpy(x), load_priors(inp['priors']),
                                index=index, device='cpu')


def test_stored_interactions_are_the_engines(inputs, tmp_path):
    rc, err = compute(inputs, tmp_path/'pairs.h5', '--sample-n-frames', 4, '--interactions', '--interaction-index', 'k-SII')
    assert rc == 0, err
    res = read_esvs(tmp_path/'pairs.h5')
    assert res['attrs']['interaction_index'] == 'k-SII'
    assert 'interaction_classes' not in res and 'interaction_stderr' not in res, "an exact run of all classes stores no ids or errors"
    direct = engine_results(inputs, res, 4, 'k-SII')
    for k, ref in (('interactions', direct.interactions), ('frame_terms', direct.frame_terms), ('esvs', direct.values),
                   ('scores', direct.scores)):
        np.testing.assert_allclose(res[k], ref.numpy(), atol=1e-5, err_msg=k)
    pairs = res['interactions'].sum((1, 2)) / 2  # each pair once
    np.testing.assert_allclose(res['frame_terms'].sum(1) + pairs, res['scores'] - res['priors'], atol=1e-5,
                               err_msg="k-SII frame and pair terms must add up to the score above the priors")
    assert 'class 0' in read_esvs(tmp_path/'pairs.h5')['attrs']['class_names']


def test_a_stopped_run_resumes_to_the_same_file(inputs, tmp_path):
    flags = ['--sample-n-frames', 3, '--interactions', '--interaction-classes', 2]
    assert compute(inputs, tmp_path/'whole.h5', *flags)[0] == 0
    assert compute(inputs, tmp_path/'resumed.h5', *flags, '--stop-after', 1)[0] == 0
    assert not (tmp_path/'resumed.h5').exists() and (tmp_path/'resumed.h5.parts').is_dir()
    rc, err = compute(inputs, tmp_path/'resumed.h5', *flags[:-1], 3)
    assert rc == 1 and '--interaction-classes (2, now 3)' in err, err
    rc, err = compute(inputs, tmp_path/'resumed.h5', *flags[:2])
    assert rc == 1 and "interactions ('SII', now None)" in err, err
    assert compute(inputs, tmp_path/'resumed.h5', *flags)[0] == 0
    assert (tmp_path/'resumed.h5').read_bytes() == (tmp_path/'whole.h5').read_bytes(), "a resumed run must write the same file"


def test_top_classes_are_each_videos_best(inputs, tmp_path):
    assert compute(inputs, tmp_path/'all.h5', '--sample-n-frames', 3, '--interactions')[0] == 0
    assert compute(inputs, tmp_path/'top.h5', '--sample-n-frames', 3, '--interactions', '--interaction-classes', 2)[0] == 0
    every, top = read_esvs(tmp_path/'all.h5'), read_esvs(tmp_path/'top.h5')
    best = np.argsort(-every['scores'], axis=1, kind='stable')[:, :2]
    assert top['interaction_classes'].tolist() == best.tolist()
    assert top['interactions'].shape == every['interactions'].shape[:3] + (2,)
    np.testing.assert_allclose(top['interactions'], np.take_along_axis(every['interactions'], best[:, None, None], -1), atol=1e-6)
    np.testing.assert_allclose(top['frame_terms'], every['frame_terms'], atol=1e-6)  # frame terms for every class


def test_collate_carries_interactions(inputs, tmp_path):
    for n in (2, 3):
        assert compute(inputs, tmp_path/f'n{n}.h5', '--sample-n-frames', n, '--interactions', '--interaction-classes', 2)[0] == 0
    with contextlib.redirect_stdout(io.StringIO()):
        assert run_command(collate_esvs_cli, [tmp_path/'n2.h5', tmp_path/'n3.h5', tmp_path/'collated.h5']) == 0
    for n in (2, 3):
        run, group = read_esvs(tmp_path/f'n{n}.h5'), read_esvs(tmp_path/'collated.h5', n)
        for k in ('interactions', 'frame_terms', 'interaction_classes'): assert np.array_equal(group[k], run[k]), k
        assert group['attrs']['interaction_index'] == 'SII'
    with CollatedResults(tmp_path/'collated.h5') as r:
        uid = r.uids(3)[0]
        v = r.video(3, uid)
        c = int(v.interaction_classes[1])
        np.testing.assert_allclose(v.pair_terms(c), read_esvs(tmp_path/'n3.h5')['interactions'][0, ..., 1], atol=1e-7)


def test_approximate_interactions_have_standard_errors(inputs, tmp_path):
    rc, err = compute(inputs, tmp_path/'approx.h5', '--sample-n-frames', 6, '--interactions', '--approximate', '--budget', 50,
                      '--seed', 1)
    assert rc == 0, err
    res = read_esvs(tmp_path/'approx.h5')
    assert res['attrs']['method'] == 'approximate/interactions'
    assert res['interaction_stderr'].shape == res['interactions'].shape and res['frame_stderr'].shape == res['frame_terms'].shape
    assert np.isfinite(res['interaction_stderr']).all() and (res['interaction_stderr'] > 0).any()
    rc, err = compute(inputs, tmp_path/'method.h5', '--interactions', '--approximate', '--budget', 24, '--method', 'permutation')
    assert rc == 1 and 'drop --method' in err, err
    rc, err = compute(inputs, tmp_path/'k.h5', '--interaction-classes', 2)
    assert rc == 1 and '--interaction-classes needs --interactions' in err, err
    rc, err = compute(inputs, tmp_path/'i.h5', '--interaction-index', 'k-SII')
    assert rc == 1 and '--interaction-index needs --interactions' in err, err
