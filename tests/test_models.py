"Slower checks of play_fair.models, play_fair.training and play_fair.features: checkpoint files, seeded training, resumable extraction."
import h5py, pytest, torch
from play_fair.data import generate_something_synthetic, gulp_ssv2
from play_fair.features import FeatureDataset, extract_features
from play_fair.models import (BNInception, FeatureTSN, MultiscaleTRN, ResNet50, SmallCNN, TRN, load_backbone,
                              load_model, load_original_mtrn, load_trunk_weights, save_backbone, save_model)
from play_fair.training import train_backbone


@pytest.fixture(scope='module')
def gulp_root(tmp_path_factory):
    "A tiny Something-Synthetic, gulped: 8 training and 4 validation videos."
    root = tmp_path_factory.mktemp('synthetic')
    data = generate_something_synthetic(root/'ss', 8, 4, n_workers=1, progress=False)
    for split in ('train', 'validation'):
        gulp_ssv2(data/f'{split}.json', data/'videos', root/'gulp'/split, n_workers=1, progress=False)
    return root/'gulp'


def test_bninception_weights_file(tmp_path):
    "A Caffe-layout BN-Inception file, nested and DataParallel-prefixed, loads into the trunk and changes its output."
    source = BNInception().eval()
    for m in source.modules():
        if isinstance(m, torch.nn.BatchNorm2d): m.running_mean.normal_(); m.running_var.uniform_(0.5, 2)
    layout = {k: v for k, v in source.trunk.state_dict().items() if not k.endswith('num_batches_tracked')}
    layout |= {'fc.weight': torch.randn(1000, 1024), 'fc.bias': torch.randn(1000)}
    torch.save({'state_dict': {f'module.{k}': v for k, v in layout.items()}}, tmp_path/'bn_inception.pth')
    target = load_trunk_weights(BNInception().eval(), tmp_path/'bn_inception.pth')
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad(): torch.testing.assert_close(target.trunk(x), source.trunk(x))


@pytest.mark.parametrize('make', [lambda: SmallCNN(64, 8), lambda: ResNet50(32), lambda: BNInception(16)])
def test_backbone_round_trip(tmp_path, make):
    torch.manual_seed(0)
    backbone = make().eval()
    save_backbone(backbone, tmp_path/'backbone')
    loaded = load_backbone(tmp_path/'backbone', device='cpu')
    assert type(loaded) is type(backbone) and loaded.config == backbone.config
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad(): torch.testing.assert_close(loaded(x), backbone(x))


def test_heads_round_trip(tmp_path):
    "MultiscaleTRN with batch-norm and FeatureTSN survive save_model/load_model, class names included."
    torch.manual_seed(0)
    mtrn = MultiscaleTRN([TRN(k, 16, 32, 5, batch_norm=True) for k in (1, 2, 3)])
    for h in mtrn.heads: h.norm.running_mean.normal_()
    mtrn.eval()
    save_model(mtrn, tmp_path/'mtrn', class_names=list('abcde'))
    loaded = load_model(tmp_path/'mtrn', device='cpu')
    x = torch.randn(4, 5, 16)
    torch.testing.assert_close(loaded(x), mtrn(x))
    assert loaded.class_names == list('abcde') and loaded.heads[1].norm is not None
    tsn = FeatureTSN(16, 5).eval()
    save_model(tsn, tmp_path/'tsn')
    torch.testing.assert_close(load_model(tmp_path/'tsn')(x), tsn(x))


def test_original_mtrn_at_paper_size(tmp_path):
    "The released layout at paper size (D=256, H=256, C=174, 8 scales), files named trn_k_frames.pth, one call."
    torch.manual_seed(0)
    heads = [TRN(k, 256, 256, 174).eval() for k in range(1, 9)]
    for k, h in enumerate(heads, 1): torch.save(h.state_dict(), tmp_path/f'trn_{k}_frames.pth')
    torch.save({}, tmp_path/'mtrn_8_frames.pth')  # the release also holds joint models; they are not per-scale heads
    mtrn = load_original_mtrn(tmp_path, device='cpu')
    assert (mtrn.n_max, mtrn.heads[7].input_dim, mtrn.heads[7].hidden_dim, mtrn.heads[7].n_classes) == (8, 256, 256, 174)
    x = torch.randn(2, 5, 256)
    torch.testing.assert_close(mtrn(x), MultiscaleTRN(heads)(x))
    assert load_original_mtrn(tmp_path, n_max=3).n_max == 3


def test_train_backbone_is_seeded(gulp_root):
    "The same seed gives the same weights; another seed other weights."
    def weights(seed):
        backbone, head, history = train_backbone(gulp_root/'train', backbone_config={'width': 4}, feature_dim=16, n_classes=12, epochs=1,
                                                 batch_size=4, seed=seed, device='cpu', progress=False, mirror={0: 1, 1: 0})
        assert list(history.columns) == ['loss', 'accuracy', 'seconds'] and head.n_classes == 12
        return torch.cat([p.detach().flatten() for p in backbone.parameters()])
    first = weights(0)
    torch.testing.assert_close(weights(0), first, rtol=0, atol=0)
    assert not torch.equal(weights(1), first)


class Interrupt(Exception): pass

def interrupt_after(backbone, n_calls):
    "Make the backbone's forward raise after `n_calls` calls (a forward hook: its weights and fingerprint stay the same)."
    calls = []
    def hook(module, args, out):
        calls.append(1)
        if len(calls) > n_calls: raise Interrupt
    return backbone.register_forward_hook(hook), calls


def test_extraction_resumes(gulp_root, tmp_path):
    torch.manual_seed(0)
    backbone = SmallCNN(16, 4).eval()
    extract_features(gulp_root/'train', backbone, tmp_path/'whole.h5', 'train', batch_size=24, progress=False)

    handle, _ = interrupt_after(backbone, 3)
    with pytest.raises(Interrupt): extract_features(gulp_root/'train', backbone, tmp_path/'resumed.h5', 'train', batch_size=24, progress=False)
    handle.remove()
    with h5py.File(tmp_path/'resumed.h5', 'r') as f: n_done = len(f['train/features'])
    assert 0 < n_done < 8
    with pytest.raises(ValueError, match="incomplete"): FeatureDataset(tmp_path/'resumed.h5', 'train')

    handle, calls = interrupt_after(backbone, 10**6)
    extract_features(gulp_root/'train', backbone, tmp_path/'resumed.h5', 'train', batch_size=24, progress=False)
    handle.remove()
    with h5py.File(tmp_path/'whole.h5', 'r') as f: n_calls_whole = sum(-(-len(v) // 24) for v in f['train/features'].values())
    assert len(calls) < n_calls_whole  # finished videos were not extracted again

    whole, resumed = FeatureDataset(tmp_path/'whole.h5', 'train', mode='all'), FeatureDataset(tmp_path/'resumed.h5', 'train', mode='all')
    assert whole.uids == resumed.uids and list(whole.labels) == list(resumed.labels)
    for i in range(len(whole)): torch.testing.assert_close(resumed[i][0], whole[i][0], rtol=1e-4, atol=1e-5)


def test_extraction_several_splits_and_other_backbone(gulp_root, tmp_path):
    torch.manual_seed(0)
    backbone = SmallCNN(16, 4).eval()
    for split in ('train', 'validation'): extract_features(gulp_root/split, backbone, tmp_path/'f.h5', split, progress=False)
    assert [len(FeatureDataset(tmp_path/'f.h5', s)) for s in ('train', 'validation')] == [8, 4]
    with pytest.raises(ValueError, match="holds features of another backbone"):
        extract_features(gulp_root/'train', SmallCNN(16, 4), tmp_path/'f.h5', 'train', progress=False)
