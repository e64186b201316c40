"""The original research code's files, read as they are: feature files of its `extract_features.py`, gulp directories of
SSv2's entries, SSv2's label map as the class list, and its command lines. Every file here is written in the original's
layout by fresh code (h5py, gulpio2's own writer) and read back through play_fair's public entry points."""
import io, json, shutil
from contextlib import redirect_stderr
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from gulpio2 import GulpIngestor
from gulpio2.adapters import AbstractDatasetAdapter

from play_fair.cli import run_command
from play_fair.data import GulpVideoDataset, gulp_ssv2_cli, sample_frame_indices, write_webm
from play_fair.evaluation import esvs_by_n_frames
from play_fair.features import FeatureDataset, convert_original_features, extract_features_cli, row_lengths
from play_fair.labels import read_classes
from play_fair.models import SmallCNN, load_model, save_backbone
from play_fair.priors import compute_class_priors_cli, load_priors
from play_fair.training import train_heads_cli

D = 6  # feature dimension of the written files
TEMPLATES = ['Moving [something] up', 'Moving [something] down', 'Pretending to move [something]']
SSV2_LABELS = {t.replace('[', '').replace(']', ''): str(i) for i, t in enumerate(TEMPLATES)}  # SSv2 spells them without brackets


def one_sentence(message):
    assert '\n' not in message.strip() and message.strip().endswith('.'), message
    return message


# --- feature files of the original extract_features.py ----------------------------------------------------------------

def original_split(seed, n):
    "Videos of 8 to 13 frames of D-dimensional features, their uids and labels."
    rng = np.random.default_rng(seed)
    videos = [rng.standard_normal((int(rng.integers(8, 14)), D)).astype(np.float32) for _ in range(n)]
    return videos, [f'{100*seed + i}' for i in range(n)], [int(i % len(TEMPLATES)) for i in range(n)]


def write_original_features(g, videos, uids, labels):
    "What the original's HdfFeatureWriter writes into the group `g`: flattened rows, uids, and a dataset per label field."
    rows = g.create_dataset('features', (len(videos),), dtype=h5py.vlen_dtype(np.float32))
    rows.attrs['feature_dim'] = D
    uid_set = g.create_dataset('uids', (len(videos),), dtype=h5py.string_dtype('utf-8'))
    label_set = g.create_dataset('labels/label', (len(videos),), dtype=np.int64)
    template_set = g.create_dataset('labels/template', (len(videos),), dtype=h5py.string_dtype('utf-8'))
    for i, (x, uid, y) in enumerate(zip(videos, uids, labels)):
        rows[i], uid_set[i], label_set[i], template_set[i] = x.ravel(), uid, y, TEMPLATES[y]


@pytest.fixture(scope='module')
def original_features(tmp_path_factory):
    "A file with a group per split, as the original's extract_features.py --split train --split validation wrote it, and one at the root."
    root = tmp_path_factory.mktemp('original-features')
    splits = {'train': original_split(1, 9), 'validation': original_split(2, 7)}
    with h5py.File(root/'per_split.hdf', 'w', libver='latest') as f:
        for name, split in splits.items(): write_original_features(f.create_group(name), *split)
    with h5py.File(root/'at_root.hdf', 'w', libver='latest') as f: write_original_features(f, *splits['validation'])
    return root, splits


@pytest.mark.parametrize('name,split', [('per_split.hdf', 'train'), ('per_split.hdf', 'validation'), ('at_root.hdf', 'validation')])
def test_feature_dataset_reads_the_original_layouts(original_features, name, split):
    root, splits = original_features
    videos, uids, labels = splits[split]
    ds = FeatureDataset(root/name, split, mode='all')
    assert (ds.layout, ds.feature_dim, ds.uids, ds.labels.tolist()) == ('original', D, uids, labels)
    assert ds.n_video_frames.tolist() == [len(x) for x in videos]
    for i, x in enumerate(videos):
        assert np.array_equal(ds[i][0].numpy(), x) and np.array_equal(ds.video(uids[i]), x), uids[i]
    sampled = FeatureDataset(root/name, split, n_frames=8)
    for x, (y, meta) in zip(videos, sampled):
        assert np.array_equal(y.numpy(), x[sample_frame_indices(len(x), 8)]) and meta['label'] == labels[uids.index(meta['uid'])]


def test_videos_too_short_are_left_out_of_original_files_as_of_play_fair_ones(original_features):
    root, splits = original_features
    videos, uids, _ = splits['train']
    with pytest.warns(UserWarning, match='leaving out'): ds = FeatureDataset(root/'per_split.hdf', 'train', n_frames=11)
    assert ds.uids == [u for u, x in zip(uids, videos) if len(x) >= 11] and ds.n_skipped == sum(len(x) < 11 for x in videos)
    for i, uid in enumerate(ds.uids): assert np.array_equal(ds.video(i), videos[uids.index(uid)])


def test_frame_counts_come_from_row_headers_without_reading_the_features(original_features, monkeypatch):
    root, splits = original_features
    read = []
    real = h5py.Dataset.__getitem__
    monkeypatch.setattr(h5py.Dataset, '__getitem__', lambda self, key: read.append(key) or real(self, key))
    with h5py.File(root/'per_split.hdf', 'r') as f: lengths = row_lengths(f['train/features'])
    assert lengths.tolist() == [x.size for x in splits['train'][0]]
    assert not any(isinstance(k, slice) for k in read) and len(read) <= 3, read  # a few rows checked, none read in bulk


def test_train_heads_and_the_evaluation_read_original_features(original_features, tmp_path):
    root, splits = original_features
    assert run_command(train_heads_cli, [root/'per_split.hdf', tmp_path, '--n-max', 2, '--hidden-dim', 8, '--epochs', 1,
                                         '--workers', 1, '--device', 'cpu', '--quiet']) == 0
    mtrn = load_model(tmp_path/'mtrn', 'cpu')
    assert mtrn(torch.zeros(1, 2, D)).shape == (1, len(TEMPLATES))
    table = esvs_by_n_frames(mtrn, torch.full((len(TEMPLATES),), 1/len(TEMPLATES)), root/'per_split.hdf', ns=[1, 2], device='cpu')
    assert table['videos'].tolist() == [len(splits['validation'][0])]*2


def test_converted_original_features_read_as_the_original(original_features, tmp_path):
    root, splits = original_features
    out = convert_original_features(root/'at_root.hdf', tmp_path/'converted.h5', 'validation', progress=False)
    ds = FeatureDataset(out, 'validation', mode='all')
    videos, uids, labels = splits['validation']
    assert (ds.layout, ds.uids, ds.labels.tolist()) == ('play_fair', uids, labels)
    assert all(np.array_equal(ds.video(i), x) for i, x in enumerate(videos))
    with h5py.File(out, 'r') as f: assert sorted(f['validation/features']) == sorted(uids)


def test_files_of_no_known_layout_are_refused_in_one_sentence(original_features, tmp_path):
    root, splits = original_features
    with h5py.File(tmp_path/'foreign.h5', 'w') as f: f['validation/frames'] = np.zeros((2, D), np.float32)
    with pytest.raises(ValueError, match="is not a features file play_fair reads: its 'validation' holds neither") as e:
        FeatureDataset(tmp_path/'foreign.h5', 'validation')
    one_sentence(str(e.value))
    with h5py.File(tmp_path/'bare.h5', 'w') as f: f['frames'] = np.zeros((2, D), np.float32)
    with pytest.raises(ValueError, match='is not a features file play_fair reads: the file holds neither'): FeatureDataset(tmp_path/'bare.h5', 'validation')
    with pytest.raises(ValueError, match="has no split 'test'; it has \\['train', 'validation'\\]"): FeatureDataset(root/'per_split.hdf', 'test')
    videos, uids, labels = splits['validation']
    with h5py.File(tmp_path/'cut_short.h5', 'w') as f:  # the original preallocates every row: an interrupted run leaves empty ones
        write_original_features(f.create_group('validation'), videos[:3], uids[:3], labels[:3])
        f['validation/uids'][2] = ''
    with pytest.raises(ValueError, match="1 of the 3 videos of 'validation' .* were never written") as e: FeatureDataset(tmp_path/'cut_short.h5', 'validation')
    one_sentence(str(e.value))
    with h5py.File(tmp_path/'templates_only.h5', 'w') as f:
        write_original_features(f.create_group('validation'), videos, uids, labels)
        del f['validation/labels/label']
    with pytest.raises(ValueError, match="have no class index: labels/ holds \\['template'\\]") as e:
        FeatureDataset(tmp_path/'templates_only.h5', 'validation')
    one_sentence(str(e.value))


# --- gulp directories of SSv2's entries ---------------------------------------------------------------------------------

def ssv2_entries(first_id, n):
    "SSv2 split-file entries: id, caption as label, template, placeholders, and no class index."
    things = ['a cup', 'a pen', 'a box']
    return [{'id': str(first_id + i), 'label': TEMPLATES[i % 3].replace('[something]', things[i % 3]),
             'template': TEMPLATES[i % 3], 'placeholders': [things[i % 3]]} for i in range(n)]


def frames_of(uid, n=None):
    "A video whose frame t is flat grey of level 8t + its uid's last digit, 16x16; `n` frames (default 6 + last digit % 4)."
    n = n or 6 + int(uid[-1]) % 4
    return np.stack([np.full((16, 16, 3), 8*t + int(uid[-1]), np.uint8) for t in range(n)])


class EntriesAdapter(AbstractDatasetAdapter):
    "A gulpio2 adapter handing its writer SSv2's entries as they are for meta (what gulpio2's JSON adapters do with a split file)."
    def __init__(self, entries): self.entries = entries
    def __len__(self): return len(self.entries)
    def iter_data(self, slice_element=None):
        for e in self.entries[slice_element or slice(None)]: yield {'id': e['id'], 'meta': e, 'frames': list(frames_of(e['id']))}


@pytest.fixture(scope='module')
def ssv2_gulp(tmp_path_factory):
    "gulp/train and gulp/validation written by gulpio2's GulpIngestor, and SSv2's label map elsewhere."
    root = tmp_path_factory.mktemp('ssv2-gulp')
    entries = {'train': ssv2_entries(200, 5), 'validation': ssv2_entries(300, 4)}
    for split, es in entries.items(): GulpIngestor(EntriesAdapter(es), str(root/'gulp'/split), 2, 1)()
    (root/'labels').mkdir()
    (root/'labels'/'something-something-v2-labels.json').write_text(json.dumps(SSV2_LABELS))
    return root, entries


def test_gulp_of_ssv2_entries_reads_with_the_label_map(ssv2_gulp):
    root, entries = ssv2_gulp
    ds = GulpVideoDataset(root/'gulp'/'validation', n_frames=4, labels_map=root/'labels'/'something-something-v2-labels.json')
    assert sorted(ds.uids) == [e['id'] for e in entries['validation']]
    for e in entries['validation']:
        frames, meta = ds[e['id']]
        assert meta['label'] == TEMPLATES.index(e['template']) and meta['caption'] == e['label'] and meta['placeholders'] == e['placeholders']
        assert meta['n_video_frames'] == len(frames_of(e['id']))
        assert np.abs(frames.astype(int) - frames_of(e['id'])[meta['frame_idx']]).max() <= 2  # JPEG of flat grey


def test_label_map_beside_the_gulp_directory_is_found(ssv2_gulp, tmp_path):
    root, entries = ssv2_gulp
    shutil.copytree(root/'gulp', tmp_path/'gulp')
    shutil.copy(root/'labels'/'something-something-v2-labels.json', tmp_path/'gulp')
    ds = GulpVideoDataset(tmp_path/'gulp'/'train')
    assert {u: int(y) for u, y in zip(ds.uids, ds.labels)} == {e['id']: TEMPLATES.index(e['template']) for e in entries['train']}


def test_a_missing_or_foreign_label_map_is_one_sentence(ssv2_gulp, tmp_path):
    root, _ = ssv2_gulp
    with pytest.raises(FileNotFoundError, match='no class index, and there is no labels.json or something-something-v2-labels.json') as e:
        GulpVideoDataset(root/'gulp'/'validation')
    assert 'pass labels_map' in one_sentence(str(e.value))
    save_backbone(SmallCNN(feature_dim=D, width=4), tmp_path/'backbone')
    with redirect_stderr(io.StringIO()) as err:
        assert run_command(extract_features_cli, [root/'gulp'/'validation', tmp_path/'backbone', tmp_path/'f.h5', '--quiet']) == 1
    assert err.getvalue().startswith('error: ') and 'pass --labels-map' in err.getvalue(), err.getvalue()
    (tmp_path/'other.json').write_text(json.dumps({'Juggling something': '0'}))
    with pytest.raises(ValueError, match="template 'Moving \\[something\\] up' of video 300 .* is not in the label map") as e:
        GulpVideoDataset(root/'gulp'/'validation', labels_map=tmp_path/'other.json')
    one_sentence(str(e.value))


class OriginalScriptAdapter(EntriesAdapter):
    "The meta the original code's gulp_ssv2.py stored: the template as label, the class index as idx."
    def iter_data(self, slice_element=None):
        for e in self.entries[slice_element or slice(None)]:
            meta = {'id': e['id'], 'label': e['template'].replace('[', '').replace(']', ''), 'idx': TEMPLATES.index(e['template'])}
            yield {'id': e['id'], 'meta': meta, 'frames': list(frames_of(e['id']))}


def test_gulp_of_the_original_gulp_ssv2_script_needs_no_label_map(tmp_path):
    entries = ssv2_entries(400, 3)
    GulpIngestor(OriginalScriptAdapter(entries), str(tmp_path/'gulp'), 2, 1)()
    ds = GulpVideoDataset(tmp_path/'gulp')
    assert {u: int(y) for u, y in zip(ds.uids, ds.labels)} == {e['id']: TEMPLATES.index(e['template']) for e in entries}


def test_extract_features_as_the_original_users_ran_it(ssv2_gulp, tmp_path):
    root, entries = ssv2_gulp
    save_backbone(SmallCNN(feature_dim=D, width=4), tmp_path/'backbone')
    labels = root/'labels'/'something-something-v2-labels.json'
    assert run_command(extract_features_cli, [root/'gulp', tmp_path/'backbone', tmp_path/'features.hdf', '--split', 'train', '--split',
                                              'validation', '--n-workers', 1, '--labels-map', labels, '--device', 'cpu', '--quiet']) == 0
    for split, es in entries.items():
        ds = FeatureDataset(tmp_path/'features.hdf', split, mode='all')
        assert sorted(ds.uids) == [e['id'] for e in es]
        assert {u: int(y) for u, y in zip(ds.uids, ds.labels)} == {e['id']: TEMPLATES.index(e['template']) for e in es}
        assert ds.n_video_frames.tolist() == [len(frames_of(u)) for u in ds.uids]
    assert run_command(extract_features_cli, [root/'gulp'/'validation', tmp_path/'backbone', tmp_path/'one.hdf', '--workers', 0,
                                              '--labels-map', labels, '--device', 'cpu', '--quiet']) == 0
    assert FeatureDataset(tmp_path/'one.hdf', 'validation', mode='all').uids == FeatureDataset(tmp_path/'features.hdf', 'validation', mode='all').uids


# --- SSv2's label map as the class list, and gulp-ssv2 on SSv2's files ------------------------------------------------

def test_compute_class_priors_on_ssv2_files_as_they_come(tmp_path):
    entries = ssv2_entries(1, 7)
    (tmp_path/'something-something-v2-train.json').write_text(json.dumps(entries))
    (tmp_path/'something-something-v2-labels.json').write_text(json.dumps(SSV2_LABELS))
    assert run_command(compute_class_priors_cli, [tmp_path/'something-something-v2-train.json', tmp_path/'class-priors.csv']) == 0
    names = read_classes(tmp_path/'something-something-v2-labels.json')
    assert names == ['Moving something up', 'Moving something down', 'Pretending to move something']
    counts = np.bincount([TEMPLATES.index(e['template']) for e in entries], minlength=3)
    assert torch.allclose(load_priors(tmp_path/'class-priors.csv', names), torch.tensor(counts/counts.sum(), dtype=torch.float32))
    elsewhere = tmp_path/'elsewhere'
    elsewhere.mkdir()
    shutil.move(tmp_path/'something-something-v2-labels.json', elsewhere/'labels.json')
    with redirect_stderr(io.StringIO()) as err:
        assert run_command(compute_class_priors_cli, [tmp_path/'something-something-v2-train.json', tmp_path/'p.csv']) == 1
    assert 'There is no classes file beside' in err.getvalue() and '--classes FILE' in err.getvalue(), err.getvalue()
    assert run_command(compute_class_priors_cli, [tmp_path/'something-something-v2-train.json', tmp_path/'p.csv', '--classes', elsewhere/'labels.json']) == 0
    assert torch.equal(load_priors(tmp_path/'p.csv'), load_priors(tmp_path/'class-priors.csv'))


def test_gulp_ssv2_finds_ssv2s_label_map_beside_the_split_file(tmp_path):
    entries = ssv2_entries(500, 4)
    (tmp_path/'labels').mkdir(); (tmp_path/'videos').mkdir()
    (tmp_path/'labels'/'something-something-v2-validation.json').write_text(json.dumps(entries))
    (tmp_path/'labels'/'something-something-v2-labels.json').write_text(json.dumps(SSV2_LABELS))
    for e in entries: write_webm(tmp_path/'videos'/f"{e['id']}.webm", frames_of(e['id'], 8))
    assert run_command(gulp_ssv2_cli, [tmp_path/'labels'/'something-something-v2-validation.json', tmp_path/'videos',
                                       tmp_path/'gulp'/'validation', '--workers', 1, '--quiet']) == 0
    ds = GulpVideoDataset(tmp_path/'gulp'/'validation')
    assert {u: int(y) for u, y in zip(ds.uids, ds.labels)} == {e['id']: TEMPLATES.index(e['template']) for e in entries}


def test_compute_esvs_reads_original_features(original_features, tmp_path):
    "compute-esvs on the original's feature file gives the ESVs it gives on the same features converted to play_fair's layout."
    from play_fair.batch import compute_esvs_cli
    from play_fair.models import TRN, MultiscaleTRN, save_model
    from play_fair.priors import save_priors
    from play_fair.results import read_esvs
    root, splits = original_features
    torch.manual_seed(0)
    save_model(MultiscaleTRN([TRN(k, D, 8, len(TEMPLATES)) for k in (1, 2, 3)]), tmp_path/'mtrn')
    save_priors(np.full(len(TEMPLATES), 1 / len(TEMPLATES)), [f'c{c}' for c in range(len(TEMPLATES))], tmp_path/'priors.csv')
    converted = convert_original_features(root/'per_split.hdf', tmp_path/'converted.h5', 'validation', progress=False)
    for name, features in (('original', root/'per_split.hdf'), ('converted', converted)):
        assert run_command(compute_esvs_cli, [tmp_path/'mtrn', tmp_path/'priors.csv', tmp_path/f'esvs-{name}.h5', '--features', features,
                                              '--sample-n-frames', 4, '--device', 'cpu', '--quiet']) == 0
    got, ref = read_esvs(tmp_path/'esvs-original.h5'), read_esvs(tmp_path/'esvs-converted.h5')
    assert got['uids'].tolist() == ref['uids'].tolist() == splits['validation'][1]
    np.testing.assert_allclose(got['esvs'], ref['esvs'], atol=1e-6)
