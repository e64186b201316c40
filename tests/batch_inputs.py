"Small, real inputs for the batch tests: a features file in `extract_features`' layout, a checkpoint and priors."
import json
from pathlib import Path

import numpy as np
import torch

from play_fair.features import write_features
from play_fair.models import TRN, FeatureTSN, MultiscaleTRN, save_model
from play_fair.priors import save_priors


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
            [sys.executable, '-c', 'import sys; from play_fair.batch import compute_esvs_cli; from play_fair.cli import run_command; '
                                   'sys.exit(run_command(compute_esvs_cli, sys.argv[1:]))'])
    return head + [str(a) for a in args]
