"Small, real inputs for the batch tests: a features file in `extract_features`' layout, a checkpoint and priors."
import json
from pathlib import Path

import h5py
import numpy as np
import torch

from play_fair.models import TRN, FeatureTSN, MultiscaleTRN, save_model
from play_fair.priors import save_priors


def write_features(path, split, videos, labels, uids=None):
    "Write per-frame features of `videos` ((T_i, D) arrays) as `extract_features` lays them out."
    uids = [f'{i:05d}' for i in range(len(videos))] if uids is None else list(uids)
    with h5py.File(path, 'a') as f:
        f.attrs['feature_dim'], f.attrs['backbone'] = videos[0].shape[1], 'synthetic'
        g = f.create_group(split)
        feats = g.create_group('features')
        for uid, x, y in zip(uids, videos, labels):
            ds = feats.create_dataset(uid, data=np.asarray(x, np.float32))
            ds.attrs['label'], ds.attrs['complete'] = int(y), True
        g.create_dataset('uids', data=np.array(uids, dtype=object), dtype=h5py.string_dtype())
        g['labels'] = np.asarray(labels, np.int64)
        g['n_frames'] = np.array([len(x) for x in videos], np.int64)
        g.attrs['n_videos'], g.attrs['complete'] = len(videos), True
    return Path(path)


def make_inputs(root, n_videos=40, lengths=(2, 12), kind='mtrn', D=16, H=16, C=5, n_max=4, nan_videos=(3,), seed=0):
    "A model spec (checkpoint, features file), a priors CSV; returns their paths."
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    names = [f'class {c}' for c in range(C)]
    torch.manual_seed(seed)
    model = (MultiscaleTRN([TRN(k, D, H, C) for k in range(1, n_max + 1)]) if kind == 'mtrn' else FeatureTSN(D, C))
    save_model(model, root/'model', class_names=names)
    videos = [torch.randn(int(rng.integers(*lengths, endpoint=True)), D, generator=g).numpy() for _ in range(n_videos)]
    for i in nan_videos: videos[i][0, 0] = np.nan
    write_features(root/'features.h5', 'validation', videos, rng.integers(0, C, n_videos))
    priors = rng.random(C) + 0.5
    save_priors(priors / priors.sum(), names, root/'priors.csv')
    (root/'spec.json').write_text(json.dumps(dict(model='model', features='features.h5', split='validation',
                                                   name=kind.upper(), dataset='Synthetic')))
    return dict(spec=root/'spec.json', priors=root/'priors.csv', features=root/'features.h5', model=root/'model')


RESULT_ARRAYS = ('uids', 'labels', 'frame_idx', 'video_lengths', 'scores', 'esvs', 'priors', 'skipped_uids', 'skipped_reasons')


def assert_same_results(path, reference):
    "Every dataset equal, video by video, bit for bit (NaN padding included), and the same root attributes."
    from play_fair.results import read_esvs
    got, ref = read_esvs(path), read_esvs(reference)
    assert got['attrs'] == ref['attrs']
    for k in RESULT_ARRAYS:
        a, b = got[k], ref[k]
        assert a.shape == b.shape, k
        if a.dtype.kind == 'f': assert a.tobytes() == b.tobytes(), k
        else: assert a.tolist() == b.tolist(), k


def compute_esvs_command(*args):
    "`compute-esvs ARGS`: the installed console script when there is one, else its entry point through this interpreter."
    import sys
    script = Path(sys.executable).parent/'compute-esvs'
    head = ([str(script)] if script.exists() else
            [sys.executable, '-c', 'import sys; from play_fair.batch import compute_esvs_cli; sys.exit(compute_esvs_cli())'])
    return head + [str(a) for a in args]
