"""Bad inputs to the priors and ESV commands: each is refused in one sentence, or skipped and counted, and no wrong
number is ever written. The commands run in this process through `run_command`, as the shell runs them."""
import json

import h5py
import numpy as np
import pytest

from batch_inputs import make_inputs
from play_fair.batch import compute_esvs_cli
from play_fair.cli import run_command
from play_fair.features import write_features
from play_fair.priors import compute_class_priors_cli, load_priors
from play_fair.results import read_esvs


def one_error(capsys, status):
    "The single `error: ...` line a failed command prints, with no traceback."
    err = capsys.readouterr().err
    assert status == 1, (status, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), err
    return lines[0]


@pytest.fixture
def inputs(tmp_path):
    return make_inputs(tmp_path/'in', n_videos=6, lengths=(4, 6), nan_videos=())


def compute(inputs, out, *args):
    return run_command(compute_esvs_cli, [inputs['spec'], inputs['priors'], out, '--sample-n-frames', 4, '--quiet', *args])


def test_empty_training_split_is_refused(tmp_path, capsys):
    (tmp_path/'classes.csv').write_text('name,id\nMoving [something] up,0\nMoving [something] down,1\n')
    (tmp_path/'train.json').write_text('[]')
    line = one_error(capsys, run_command(compute_class_priors_cli, [tmp_path/'train.json', tmp_path/'priors.csv']))
    assert 'lists no training videos' in line, line
    assert not (tmp_path/'priors.csv').exists(), "no all-NaN priors may be written"


def test_nan_prior_is_refused(inputs, tmp_path, capsys):
    text = inputs['priors'].read_text().splitlines()
    text[1] = text[1].split(',')[0] + ',nan'
    inputs['priors'].write_text('\n'.join(text) + '\n')
    line = one_error(capsys, compute(inputs, tmp_path/'out.h5'))
    assert 'are not class probabilities: 1 of them are NaN or infinite' in line, line
    assert not (tmp_path/'out.h5').exists() and not (tmp_path/'out.h5.parts').exists()


@pytest.mark.parametrize('args, sentence', [
    (('--workers', -1), '--workers must be 0 (compute in this process) or a number of Dask processes, got -1.'),
    (('--chunk-size', 0), 'The chunk size must be at least 1 video, got 0.'),
    (('--chunk-size', -3), 'The chunk size must be at least 1 video, got -3.'),
    (('--device', 'banana'), "--device banana is not a device; pass 'cpu', 'cuda' or 'cuda:N'"),
])
def test_bad_run_settings_are_refused(inputs, tmp_path, capsys, args, sentence):
    line = one_error(capsys, compute(inputs, tmp_path/'out.h5', *args))
    assert sentence in line, line
    assert not (tmp_path/'out.h5').exists()


def test_overflowing_features_are_skipped_and_counted(inputs, tmp_path, capsys):
    "Finite features too large for the model give NaN ESVs: that video is skipped with a reason, never stored."
    rng = np.random.default_rng(0)
    videos = [rng.standard_normal((5, 16)).astype(np.float32) for _ in range(4)]
    videos[2][:] = 3e38
    videos[2][1::2] = -3e38  # finite features, but the model's logits overflow to inf - inf
    inputs['features'].unlink()
    write_features(inputs['features'], 'validation', videos, np.zeros(4, np.int64))
    assert compute(inputs, tmp_path/'out.h5') == 0, capsys.readouterr().err
    res = read_esvs(tmp_path/'out.h5')
    assert res['skipped_reasons'].tolist() == ['non-finite scores or ESVs'], res['skipped_reasons']
    assert len(res['uids']) == 3 and res['skipped_uids'][0] not in res['uids'].tolist(), (res['uids'], res['skipped_uids'])
    assert np.isfinite(res['scores']).all() and np.isfinite(res['esvs']).all(), "no non-finite result may be stored"


def test_resuming_with_other_arguments_says_how_to_start_over(inputs, tmp_path, capsys):
    out = tmp_path/'out.h5'
    assert compute(inputs, out, '--stop-after', 1, '--chunk-size', 2) == 0
    assert (tmp_path/'out.h5.parts').is_dir() and not out.exists()
    capsys.readouterr()
    line = one_error(capsys, compute(inputs, out, '--chunk-size', 3))
    assert f"delete {tmp_path/'out.h5.parts'} to start over with these" in line, line
    import shutil; shutil.rmtree(tmp_path/'out.h5.parts')  # following the advice starts over
    assert compute(inputs, out, '--chunk-size', 3) == 0, capsys.readouterr().err
    with h5py.File(out, 'r') as f: assert json.loads(f.attrs['arguments'])['chunk_size'] == 3
    capsys.readouterr()
    line = one_error(capsys, compute(inputs, out, '--chunk-size', 2))
    assert f"delete {out} to start over with these" in line, line


def test_priors_file_round_trip_refuses_nan(tmp_path):
    (tmp_path/'p.csv').write_text('class,prior\na,0.5\nb,nan\n')
    with pytest.raises(ValueError, match='NaN or infinite'): load_priors(tmp_path/'p.csv')
