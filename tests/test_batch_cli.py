"""The command-line tools as a shell user meets them: each console script runs in a subprocess, and the tests check its
exit status and what it prints. The training commands run end to end on a tiny generated dataset."""
import json, subprocess, sys, tomllib
from pathlib import Path

import h5py
import numpy as np
import pytest

from batch_inputs import make_inputs
from play_fair.features import write_features

SCRIPTS = tomllib.loads((Path(__file__).parents[1]/'pyproject.toml').read_text())['project']['scripts']


def command(name, *args):
    "A console script declared in pyproject.toml: the installed one, else its entry point through this interpreter."
    script = Path(sys.executable).parent/name
    module, function = SCRIPTS[name].split(':')
    head = ([str(script)] if script.exists() else
            [sys.executable, '-c', f'import sys; from play_fair.cli import run_command; from {module} import {function}; '
                                   f'sys.exit(run_command({function}, sys.argv[1:]))'])
    return head + [str(a) for a in args]


def run(name, *args):
    return subprocess.run(command(name, *args), capture_output=True, text=True, timeout=300)


def one_error(p):
    "The single `error: ...` line a failed command prints, with no traceback."
    assert p.returncode == 1, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), p.stderr
    return lines[0]


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    "Something-Synthetic with one training video per class, written by the command, and gulped."
    from play_fair.data import CLASSES, gulp_ssv2
    root = tmp_path_factory.mktemp('cli')
    p = run('generate-something-synthetic', root/'data', '--n-train', len(CLASSES), '--n-val', 4, '--size', 32, '--quiet')
    assert p.returncode == 0, p.stderr
    assert f"wrote {len(CLASSES)} training and 4 validation videos" in p.stdout
    for split in ('train', 'validation'):
        gulp_ssv2(root/'data'/f'{split}.json', root/'data'/'videos', root/'gulp'/split, progress=False)
    return root


def test_train_backbone(dataset):
    from play_fair.models import load_backbone
    out = dataset/'backbone'
    p = run('train-backbone', dataset/'gulp'/'train', out, '--val-gulp-dir', dataset/'gulp'/'validation', '--epochs', 1,
            '--width', 4, '--feature-dim', 32, '--device', 'cpu', '--quiet')
    assert p.returncode == 0, p.stderr
    assert 'validation top-1' in p.stdout and p.stderr == '', (p.stdout, p.stderr)
    backbone = load_backbone(out, device='cpu')
    assert (backbone.feature_dim, backbone.config['width']) == (32, 4)


def test_gulp_names_its_options(dataset):
    "A library error reaches the shell user with the command's options, not Python's arguments."
    data = dataset/'data'
    error = one_error(run('gulp-ssv2', data/'validation.json', data/'videos', dataset/'gulp'/'validation'))
    assert 'pass --overwrite to replace it or choose another OUT_DIR' in error, error
    assert 'overwrite=True' not in error and 'out_dir' not in error, error


def test_train_heads(tmp_path):
    from play_fair.models import FeatureTSN, MultiscaleTRN, TemporalTransformer, load_model
    rng = np.random.default_rng(0)
    for split, n in (('train', 24), ('validation', 8)):
        write_features(tmp_path/'features.h5', split, [rng.standard_normal((rng.integers(6, 12), 8)) for _ in range(n)],
                       np.arange(n) % 3)
    with h5py.File(tmp_path/'features.h5', 'a') as f: f.attrs['backbone_fingerprint'] = '0123456789abcdef'  # as extract-features records it
    p = run('train-heads', tmp_path/'features.h5', tmp_path/'heads', '--n-max', 3, '--hidden-dim', 8, '--epochs', 1,
            '--temporal-transformer', '--device', 'cpu', '--quiet')
    assert p.returncode == 0, p.stderr
    assert all(name in p.stdout for name in ('TSN', 'MTRN', 'TT')) and 'validation top-1' in p.stdout, p.stdout
    tsn, mtrn, tt = (load_model(tmp_path/'heads'/name, device='cpu') for name in ('tsn', 'mtrn', 'tt'))
    assert isinstance(tsn, FeatureTSN) and isinstance(mtrn, MultiscaleTRN) and mtrn.n_max == 3, (tsn, mtrn)
    assert isinstance(tt, TemporalTransformer) and tt.config['input_dim'] == 8 and tt.config['n_classes'] == 3, tt.config
    assert json.loads((tmp_path/'heads'/'tt'/'config.json').read_text())['kind'] == 'temporal_transformer'
    for name in ('tsn', 'mtrn', 'tt'):  # what compute-esvs checks the features against
        assert json.loads((tmp_path/'heads'/name/'config.json').read_text())['backbone_fingerprint'] == '0123456789abcdef', name
    saved = {p: p.read_bytes() for p in sorted((tmp_path/'heads').rglob('*')) if p.is_file()}
    error = one_error(run('train-heads', tmp_path/'features.h5', tmp_path/'heads', '--seed', 1, '--quiet'))
    assert 'already hold a saved model; pass --overwrite' in error, error
    (tmp_path/'other'/'tt').mkdir(parents=True)
    (tmp_path/'other'/'tt'/'config.json').write_text('{}')  # only the transformer's folder is taken: refused before any work
    error = one_error(run('train-heads', tmp_path/'features.h5', tmp_path/'other', '--temporal-transformer', '--quiet'))
    assert f"{tmp_path/'other'/'tt'} already holds a saved model" in error, error
    assert saved and all(p.read_bytes() == b for p, b in saved.items()), 'a refused run must leave the saved models as they were'


def test_exact_esvs_of_long_videos_refused_up_front(tmp_path):
    inp = make_inputs(tmp_path/'inputs', n_videos=3, lengths=(3, 24), nan_videos=())
    out = tmp_path/'esvs.h5'
    error = one_error(run('compute-esvs', inp['spec'], inp['priors'], out, '--sample-n-frames', -1, '--device', 'cpu'))
    assert 'pass --approximate --budget B' in error, error
    assert not out.exists() and not out.with_name(out.name + '.parts').exists()


def test_quiet_then_resume(tmp_path):
    "--quiet shows no progress bar, not even the engine's over a big lattice; a resumed run says so on stderr."
    inp = make_inputs(tmp_path/'inputs', n_videos=65, lengths=(16, 16), D=4, H=4, C=2, n_max=1, nan_videos=())
    args = [inp['spec'], inp['priors'], tmp_path/'esvs.h5', '--sample-n-frames', 16, '--chunk-size', 64, '--device', 'cpu']
    p = run('compute-esvs', *args, '--stop-after', 1, '--quiet')  # a chunk of 64 videos x 2^16 subsets
    assert (p.returncode, p.stdout, p.stderr) == (0, '', '')
    p = run('compute-esvs', *args)
    assert p.returncode == 0, p.stderr
    assert p.stderr.startswith('resuming: 64 of 65 videos done\n'), p.stderr
    assert 'complete, 65 videos done' in p.stdout, p.stdout


@pytest.mark.parametrize('name', SCRIPTS)
def test_help_needs_no_torch(name, tmp_path):
    "`--help` of a console script parses before importing torch (seconds to import): it answers at once."
    module, function = SCRIPTS[name].split(':')
    script = tmp_path/name  # a file, as pip writes a console script (`call_parse` parses only when called from one)
    script.write_text(f"import sys\nfrom {module} import {function}\ntry: {function}()\n"
                      f"except SystemExit as e: assert e.code in (0, None), e.code\nprint('torch' in sys.modules)\n")
    p = subprocess.run([sys.executable, script, '--help'], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip().endswith('False'), (p.stdout[-300:], p.stderr[-500:])
    assert 'usage:' in p.stdout, p.stdout[:300]
