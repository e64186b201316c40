"""Bad input to the command-line tools that should each get one sentence naming the file or argument and what to do:
damaged checkpoints and run manifests, a class id that is not a number, an output path that is a folder, a backbone where
a temporal model is due (and the reverse), a device that does not exist; and results that must not be mixed: runs of
different models or features files in one collated file, features of another backbone than the model was trained on."""
import json, shutil

import h5py
import numpy as np
import pytest
import torch

from batch_inputs import make_inputs
from play_fair.batch import compute_esvs_cli
from play_fair.cli import run_command
from play_fair.features import backbone_fingerprint, extract_features_cli, record_backbone
from play_fair.labels import read_classes
from play_fair.models import SmallCNN, save_backbone
from play_fair.priors import compute_class_priors_cli
from play_fair.results import collate_esvs_cli, read_esvs


def one_error(capsys, status):
    "The single `error: ...` line a failed command prints, with no traceback."
    err = capsys.readouterr().err
    assert status == 1, (status, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and lines[0].endswith('.'), err
    return lines[0]


@pytest.fixture
def inputs(tmp_path):
    return make_inputs(tmp_path/'in', n_videos=6, lengths=(4, 6), nan_videos=())


def compute(inputs, out, *args, spec=None):
    return run_command(compute_esvs_cli, [spec or inputs['spec'], inputs['priors'], out, '--sample-n-frames', 4, '--quiet', *args])


@pytest.mark.parametrize('change, says', [
    (lambda c: '{"kind": "mt\x01rn"}', 'is not valid JSON (Invalid control character'),
    (lambda c: json.dumps({k: v for k, v in c.items() if k != 'hidden_dim'}), 'needs a positive whole number "hidden_dim", not None'),
    (lambda c: json.dumps({k: v for k, v in c.items() if k != 'n_max'}), 'needs a positive whole number "n_max", not None'),
    (lambda c: json.dumps({**c, 'n_classes': 'twelve'}), "needs a positive whole number \"n_classes\", not 'twelve'")])
def test_a_damaged_config_json_is_named(inputs, tmp_path, capsys, change, says):
    config = inputs['model']/'config.json'
    config.write_text(change(json.loads(config.read_text())))
    line = one_error(capsys, compute(inputs, tmp_path/'esvs.h5'))
    assert f'{config} {says}' in line, line
    assert not (tmp_path/'esvs.h5').exists()


def test_a_backbone_config_without_arch_is_named(tmp_path, capsys):
    save_backbone(SmallCNN(feature_dim=8, width=4), tmp_path/'backbone')
    config = tmp_path/'backbone'/'config.json'
    config.write_text(json.dumps({k: v for k, v in json.loads(config.read_text()).items() if k != 'arch'}))
    line = one_error(capsys, run_command(extract_features_cli, [tmp_path, tmp_path/'backbone', tmp_path/'f.h5', '--quiet']))
    assert f'{config} names no backbone architecture ("arch"); save the backbone again.' in line, line


def test_extract_features_given_a_model_folder_names_the_backbone_command(inputs, tmp_path, capsys):
    line = one_error(capsys, run_command(extract_features_cli, [tmp_path, inputs['model'], tmp_path/'f.h5', '--quiet']))
    assert "holds a 'mtrn' checkpoint, a temporal model, not a backbone; pass the backbone folder written by train-backbone" in line, line
    assert 'load_' not in line and 'save_' not in line, line


@pytest.mark.parametrize('manifest, says', [('{"run_id": \x01', 'is not valid JSON'), ('{"run_id": "abc"}', "has no 'arguments'")])
def test_a_damaged_manifest_is_named_with_how_to_start_over(inputs, tmp_path, capsys, manifest, says):
    out = tmp_path/'esvs.h5'
    assert compute(inputs, out, '--chunk-size', 2, '--stop-after', 1) == 0
    (out.parent/'esvs.h5.parts'/'manifest.json').write_text(manifest)
    line = one_error(capsys, compute(inputs, out, '--chunk-size', 2))
    assert f"{out.parent/'esvs.h5.parts'/'manifest.json'} {says}" in line and f"delete {out.parent/'esvs.h5.parts'} to start over" in line, line


def test_a_class_id_that_is_not_a_number_is_named(tmp_path, capsys):
    (tmp_path/'classes.csv').write_text('name,id\nMoving [something] up,0\nMoving [something] down,x\n')
    with pytest.raises(ValueError, match="gives class 'Moving \\[something\\] down' the id 'x'; each id must be a whole number"):
        read_classes(tmp_path/'classes.csv')
    (tmp_path/'train.json').write_text(json.dumps([{'id': '1', 'template': 'Moving [something] up'}]))
    line = one_error(capsys, run_command(compute_class_priors_cli, [tmp_path/'train.json', tmp_path/'priors.csv']))
    assert "the id 'x'; each id must be a whole number" in line, line


def test_a_truncated_checkpoint_is_called_truncated(inputs, tmp_path, capsys):
    pt = inputs['model']/'trn_2_frames.pt'
    pt.write_bytes(pt.read_bytes()[:len(pt.read_bytes()) // 2])
    line = one_error(capsys, compute(inputs, tmp_path/'esvs.h5'))
    assert f'{pt} is truncated' in line and 'pickle' not in line and 'more than' not in line, line


def test_an_output_path_that_is_a_folder_is_refused_without_advice_to_delete(inputs, tmp_path, capsys):
    assert compute(inputs, tmp_path/'esvs.h5') == 0
    (tmp_path/'out.h5').mkdir()
    for command, argv in ((compute_esvs_cli, [inputs['spec'], inputs['priors'], tmp_path/'out.h5', '--quiet']),
                          (extract_features_cli, [tmp_path, inputs['model'], tmp_path/'out.h5', '--quiet']),
                          (collate_esvs_cli, [tmp_path/'esvs.h5', tmp_path/'out.h5'])):
        line = one_error(capsys, run_command(command, argv))
        assert f'{tmp_path/"out.h5"} is a folder, not a file; pass the path of the file to write' in line and 'delete' not in line, line
    assert not (tmp_path/'out.h5.parts').exists()


def test_an_unknown_device_is_refused_before_any_output(inputs, tmp_path, capsys):
    line = one_error(capsys, compute(inputs, tmp_path/'esvs.h5', '--device', 'banana'))
    assert "--device banana is not a device; pass 'cpu', 'cuda'" in line, line
    assert list(tmp_path.iterdir()) == [tmp_path/'in'], 'no OUT.parts/ may be left for a refused device'


def test_collating_runs_of_different_models_or_features_is_refused(tmp_path, capsys):
    a = make_inputs(tmp_path/'a', n_videos=4, lengths=(4, 6), nan_videos=())
    b = make_inputs(tmp_path/'b', n_videos=4, lengths=(4, 6), nan_videos=(), kind='tsn')
    c = make_inputs(tmp_path/'c', n_videos=5, lengths=(4, 6), nan_videos=())  # the same model, other features
    shutil.copytree(a['model'], tmp_path/'c'/'model', dirs_exist_ok=True)
    runs = {}
    for name, inp, n in (('mtrn1', a, 1), ('tsn2', b, 2), ('mtrn3', a, 3), ('other4', c, 4)):
        runs[name] = tmp_path/f'{name}.h5'
        assert compute(inp, runs[name], '--sample-n-frames', n) == 0
    line = one_error(capsys, run_command(collate_esvs_cli, [runs['mtrn1'], runs['tsn2'], runs['mtrn3'], tmp_path/'all.h5']))
    assert f"{runs['tsn2']} was computed from another model than {runs['mtrn1']}" in line and '--mixed' in line, line
    line = one_error(capsys, run_command(collate_esvs_cli, [runs['mtrn1'], runs['other4'], tmp_path/'all.h5']))
    assert f"{runs['other4']} was computed from another features than {runs['mtrn1']} (features differ)" in line, line
    assert not (tmp_path/'all.h5').exists()
    assert run_command(collate_esvs_cli, [runs['mtrn1'], runs['mtrn3'], tmp_path/'one.h5']) == 0
    assert run_command(collate_esvs_cli, [runs['mtrn1'], runs['tsn2'], tmp_path/'mixed.h5', '--mixed']) == 0


def test_features_of_another_backbone_are_refused_unless_intended(inputs, tmp_path, capsys):
    trained, other = SmallCNN(feature_dim=8, width=4), SmallCNN(feature_dim=8, width=4)
    with torch.no_grad(): next(other.parameters()).view(-1)[0] += 1
    record_backbone(inputs['model'], backbone_fingerprint(trained))
    with h5py.File(inputs['features'], 'a') as f: f.attrs['backbone_fingerprint'] = backbone_fingerprint(other)
    line = one_error(capsys, compute(inputs, tmp_path/'esvs.h5'))
    assert (f"holds features of backbone {backbone_fingerprint(other)}, but the model {inputs['model']} was trained on features "
            f"of backbone {backbone_fingerprint(trained)}" in line and 'pass --other-backbone if this is intended' in line), line
    assert not (tmp_path/'esvs.h5').exists() and not (tmp_path/'esvs.h5.parts').exists()
    assert compute(inputs, tmp_path/'esvs.h5', '--other-backbone') == 0
    with h5py.File(inputs['features'], 'a') as f: f.attrs['backbone_fingerprint'] = backbone_fingerprint(trained)
    assert compute(inputs, tmp_path/'same.h5') == 0
    assert np.array_equal(read_esvs(tmp_path/'same.h5')['esvs'], read_esvs(tmp_path/'esvs.h5')['esvs'], equal_nan=True)


def test_a_checkpoint_without_the_record_keeps_working(inputs, tmp_path):
    with h5py.File(inputs['features'], 'a') as f: f.attrs['backbone_fingerprint'] = 'a' * 16
    assert 'backbone_fingerprint' not in json.loads((inputs['model']/'config.json').read_text())
    assert compute(inputs, tmp_path/'esvs.h5') == 0
