"""The original research code's checkpoint files load through `load_model` / `load_backbone` and compute what the
original modules computed.

Each test builds a state dict in one of the original's layouts (the modules written out here from the layouts'
description), saves it as the original did (`torch.save` of the state dict, or of the trainer's checkpoint dict),
loads it through the public entry point, and compares with a forward pass written here in plain torch ops from the
same tensors. Each refusal has a test for its sentence.
"""
import argparse, json, math
from itertools import combinations
from pathlib import Path

import pytest, torch
import torch.nn.functional as F
from torch import nn

from play_fair.models import (CAFFE_BGR_NORM, IMAGENET_NORM, BNInception, BNInceptionTrunk, FeatureTSN, MultiscaleTRN, ResNet50,
                              TRN, frames_to_tensor, load_backbone, load_model, load_original_mtrn, save_model)
from play_fair.multiscale import is_factorisable, multiscale_esvs

D, H, C = 6, 10, 5
WRAPPINGS = {'bare': lambda sd: sd, 'state_dict': lambda sd: {'state_dict': sd}, 'model': lambda sd: {'model': sd},
             'DataParallel': lambda sd: {'state_dict': {f'module.{k}': t for k, t in sd.items()}}}
LAYOUTS = [dict(batch_norm=bn, input_relu=relu) for bn in (True, False) for relu in (False, True)]


def original_mlp(k, batch_norm, input_relu, seed=0):
    "The original's TRN head, `model`: [ReLU,] dropout, linear (no bias before a batch-norm), [batch-norm,] ReLU, linear."
    torch.manual_seed(seed)
    layers = ([nn.ReLU()] if input_relu else []) + [nn.Dropout(0.1), nn.Linear(k * D, H, bias=not batch_norm)]
    layers += ([nn.BatchNorm1d(H)] if batch_norm else []) + [nn.ReLU(), nn.Linear(H, C)]
    mlp = nn.Sequential(*layers)
    for m in mlp:
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.normal_(); m.running_var.uniform_(0.3, 3); m.weight.data.normal_(); m.bias.data.normal_()
            m.num_batches_tracked.fill_(1000)
    return {f'model.{k}': t.detach().clone() for k, t in mlp.state_dict().items()}


def reference_head(sd, x, batch_norm, input_relu):
    "The original head's eval-mode output in plain ops: (N, k, D) → (N, C)."
    i = 2 if input_relu else 1
    h = x.flatten(1).relu() if input_relu else x.flatten(1)
    h = F.linear(h, sd[f'model.{i}.weight'].to(x), sd.get(f'model.{i}.bias', torch.zeros(H)).to(x))
    if batch_norm:
        n = lambda p: sd[f'model.{i + 1}.{p}'].to(x)
        h = F.batch_norm(h, n('running_mean'), n('running_var'), n('weight'), n('bias'), training=False, eps=1e-5)
    last = i + 3 if batch_norm else i + 2
    return F.linear(h.relu(), sd[f'model.{last}.weight'].to(x), sd[f'model.{last}.bias'].to(x))


def reference_multiscale(heads, x, **options):
    "The mean over scales s ≤ min(T, m) of the mean of head s over every s-subset of the frames, kept in order."
    T = x.shape[1]
    scale_means = [torch.stack([reference_head(heads[s - 1], x[:, list(c)], **options) for c in combinations(range(T), s)]).mean(0)
                   for s in range(1, min(T, len(heads)) + 1)]
    return torch.stack(scale_means).mean(0)


def reference_esvs(model, x, priors):
    "Shapley values of v(S) = softmax(model(X_S)), v(∅) = priors, from the definition: x (T, D) → (T, C)."
    T = x.shape[0]
    v = {(): priors}
    for r in range(1, T + 1):
        for S in combinations(range(T), r): v[S] = model(x[list(S)][None])[0].softmax(-1)
    phi = torch.zeros(T, len(priors), dtype=x.dtype)
    for i in range(T):
        for r in range(T):
            for S in combinations([j for j in range(T) if j != i], r):
                weight = math.factorial(r) * math.factorial(T - r - 1) / math.factorial(T)
                phi[i] += weight * (v[tuple(sorted(S + (i,)))] - v[S])
    return phi


def mtrn_file(n_scales, batch_norm, input_relu):
    "The original multiscale model's state dict: head s under single_scale_models.{s-1}."
    heads = [original_mlp(s, batch_norm, input_relu, seed=s) for s in range(1, n_scales + 1)]
    return heads, {f'single_scale_models.{s}.{k}': t for s, head in enumerate(heads) for k, t in head.items()}


# --- TRN heads ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('wrapping', WRAPPINGS)
@pytest.mark.parametrize('options', LAYOUTS, ids=lambda o: f"bn={o['batch_norm']}-relu={o['input_relu']}")
def test_trn_head_file(tmp_path, options, wrapping):
    sd = original_mlp(3, **options)
    torch.save(WRAPPINGS[wrapping](sd), tmp_path/'trn_3_frames.pth')
    head = load_model(tmp_path/'trn_3_frames.pth', device='cpu')
    assert isinstance(head, TRN) and (head.n_frames, head.input_dim, head.hidden_dim, head.n_classes) == (3, D, H, C)
    assert not head.training
    x = torch.randn(32, 3, D, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(head(x), reference_head(sd, x, **options), atol=1e-5, rtol=1e-5)


def test_trn_head_in_a_training_checkpoint(tmp_path):
    "The trainer's {epoch, args (argparse.Namespace), model, optimizer, scheduler} loads without unpickling code."
    sd = original_mlp(2, batch_norm=True, input_relu=False)
    params = [nn.Parameter(t.clone()) for t in sd.values() if t.is_floating_point()]
    optimizer = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    params[0].grad = torch.ones_like(params[0]); optimizer.step()
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 10)
    args = argparse.Namespace(lr=0.01, epochs=30, frame_count=2, checkpoint=Path('checkpoints/features'), tags=['a'], resume=None)
    torch.save({'epoch': 29, 'args': args, 'model': sd, 'optimizer': optimizer.state_dict(), 'scheduler': scheduler.state_dict()},
               tmp_path/'trn_2_frames.pth')
    x = torch.randn(8, 2, D)
    torch.testing.assert_close(load_model(tmp_path/'trn_2_frames.pth')(x), reference_head(sd, x, True, False), atol=1e-5, rtol=1e-5)


def test_trn_head_needs_its_number_of_frames(tmp_path):
    sd = original_mlp(2, batch_norm=False, input_relu=False)
    torch.save(sd, tmp_path/'head.pth')
    with pytest.raises(ValueError, match=r"head.pth is a TRN head over 12 inputs \(k frames of D features each\), and its tensors "
                                         r"do not say k: pass n_frames, or keep the original's file name trn_\{k\}_frames.pth"):
        load_model(tmp_path/'head.pth')
    x = torch.randn(4, 2, D)
    torch.testing.assert_close(load_model(tmp_path/'head.pth', n_frames=2)(x), reference_head(sd, x, False, False))
    with pytest.raises(ValueError, match="takes 12 inputs, which cannot be 5 frames of equal width"):
        load_model(tmp_path/'head.pth', n_frames=5)


# --- multiscale TRN ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('options', LAYOUTS, ids=lambda o: f"bn={o['batch_norm']}-relu={o['input_relu']}")
def test_multiscale_file(tmp_path, options):
    heads, sd = mtrn_file(4, **options)
    torch.save(sd, tmp_path/'mtrn_4_frames.pth')
    mtrn = load_model(tmp_path/'mtrn_4_frames.pth', device='cpu')
    assert isinstance(mtrn, MultiscaleTRN) and mtrn.n_max == 4
    x = torch.randn(3, 6, D, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(mtrn(x), reference_multiscale(heads, x, **options), atol=1e-5, rtol=1e-5)
    assert all(is_factorisable(h) for h in mtrn.heads) == (not options['input_relu'])
    single = load_original_mtrn(tmp_path/'mtrn_4_frames.pth', n_max=2, device='cpu')
    torch.testing.assert_close(single(x), reference_multiscale(heads[:2], x, **options), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('input_relu', [False, True])
def test_esvs_of_a_loaded_batch_norm_multiscale_trn(tmp_path, input_relu):
    "The multiscale engine's ESVs of the loaded model equal the Shapley values of the original model's game."
    heads, sd = mtrn_file(3, batch_norm=True, input_relu=input_relu)
    torch.save({'state_dict': sd}, tmp_path/'mtrn_3_frames.pth')
    mtrn = load_model(tmp_path/'mtrn_3_frames.pth', device='cpu')
    x = torch.randn(5, D, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    priors = torch.softmax(torch.randn(C, dtype=torch.float64), 0)
    result = multiscale_esvs(mtrn, x, priors, device='cpu')
    expected = reference_esvs(lambda xs: reference_multiscale(heads, xs, batch_norm=True, input_relu=input_relu), x, priors)
    torch.testing.assert_close(result.values, expected, atol=1e-9, rtol=1e-7)
    torch.testing.assert_close(result.values.sum(0), result.scores - priors, atol=1e-9, rtol=1e-7)


def test_folder_of_per_scale_heads_in_several_layouts(tmp_path):
    "load_original_mtrn builds one multiscale TRN from trn_{k}_frames.pth files, whatever layout each head was saved in."
    heads = [original_mlp(k, batch_norm=k != 2, input_relu=False, seed=k) for k in (1, 2, 3)]
    for k, sd in enumerate(heads, 1): torch.save(WRAPPINGS['model'](sd), tmp_path/f'trn_{k}_frames.pth')
    torch.save({}, tmp_path/'mtrn_8_frames.pth')   # the release's folder holds other files too; they are not per-scale heads
    mtrn = load_original_mtrn(tmp_path, device='cpu')
    x = torch.randn(2, 4, D)
    expected = torch.stack([torch.stack([reference_head(heads[s - 1], x[:, list(c)], batch_norm=s != 2, input_relu=False)
                                         for c in combinations(range(4), s)]).mean(0) for s in (1, 2, 3)]).mean(0)
    torch.testing.assert_close(mtrn(x), expected, atol=1e-5, rtol=1e-5)
    assert load_original_mtrn(tmp_path/'trn_1_frames.pth').n_max == 1
    with pytest.raises(ValueError, match=r"needs TRN_1 … TRN_3, but the heads for \[1, 2\] frames are missing"):
        load_original_mtrn(tmp_path/'trn_3_frames.pth')
    with pytest.raises(ValueError, match="mtrn_8_frames.pth does not hold a state dict"):
        load_original_mtrn([tmp_path/'trn_1_frames.pth', tmp_path/'mtrn_8_frames.pth'])


# --- feature TSN ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('input_relu', [None, True, False])
def test_feature_tsn_file(tmp_path, input_relu):
    "The original's input ReLU is not in the file: on by default, as in the original, and off when asked."
    torch.manual_seed(0)
    weight, bias = torch.randn(C, D), torch.randn(C)
    torch.save({'classifier.weight': weight, 'classifier.bias': bias}, tmp_path/'tsn.pth')
    tsn = load_model(tmp_path/'tsn.pth', input_relu=input_relu)
    x = torch.randn(3, 7, D)
    frames = x if input_relu is False else x.relu()
    torch.testing.assert_close(tsn(x), F.linear(frames, weight, bias).mean(1), atol=1e-5, rtol=1e-5)


def test_play_fair_tsn_folders_keep_their_behaviour(tmp_path):
    "A folder saved before input_relu existed loads with the ReLU on; one saved without it loads without."
    torch.manual_seed(0)
    x = torch.randn(2, 4, D)
    save_model(FeatureTSN(D, C).eval(), tmp_path/'old')
    config = json.loads((tmp_path/'old'/'config.json').read_text())
    del config['input_relu']
    (tmp_path/'old'/'config.json').write_text(json.dumps(config))
    old = load_model(tmp_path/'old')
    torch.testing.assert_close(old(x), old.classifier(x.relu()).mean(1))
    save_model(FeatureTSN(D, C, input_relu=False).eval(), tmp_path/'linear')
    linear = load_model(tmp_path/'linear')
    assert not linear.input_relu
    torch.testing.assert_close(linear(x), linear.classifier(x).mean(1))


# --- backbones -----------------------------------------------------------------------------------------------------

def with_running_stats(module):
    "A module's state dict with random batch-norm statistics, as trained weights have."
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d): m.running_mean.normal_(0, 0.1); m.running_var.uniform_(0.5, 2); m.weight.data.uniform_(0.5, 1.5)
    return {k: t for k, t in module.eval().state_dict().items() if not k.endswith('num_batches_tracked')}


FRAMES = torch.randint(0, 256, (3, 32, 64, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(4))


def test_bninception_backbone_file(tmp_path):
    "backbones/trn.pth: the Caffe-named trunk plus last_linear (256 × 1024), fed BGR 0..255 frames minus (104, 117, 128)."
    torch.manual_seed(0)
    trunk = BNInceptionTrunk()
    sd = with_running_stats(trunk)
    weight, bias = torch.randn(256, 1024) / 32, torch.randn(256)
    torch.save({'state_dict': {**sd, 'last_linear.weight': weight, 'last_linear.bias': bias}}, tmp_path/'trn.pth')
    backbone = load_backbone(tmp_path/'trn.pth', device='cpu')
    assert isinstance(backbone, BNInception) and backbone.feature_dim == 256 and backbone.normalisation == CAFFE_BGR_NORM
    bgr = FRAMES.flip(-1).permute(0, 3, 1, 2).float() - torch.tensor([104., 117., 128.]).view(3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(backbone(frames_to_tensor(FRAMES, backbone.normalisation)), F.linear(trunk(bgr), weight, bias),
                                   atol=1e-5, rtol=1e-4)


def test_resnet50_backbone_file(tmp_path):
    "backbones/tsn.pth: torchvision's ResNet-50 names without fc, plus last_linear (256 × 2048), fed ImageNet-standardised RGB."
    import torchvision
    torch.manual_seed(0)
    resnet = torchvision.models.resnet50(weights=None)
    resnet.fc = nn.Linear(2048, 256)
    sd = with_running_stats(resnet)
    file = {k: t for k, t in sd.items() if not k.startswith('fc.')} | {'last_linear.weight': sd['fc.weight'], 'last_linear.bias': sd['fc.bias']}
    torch.save(file, tmp_path/'tsn.pth')
    backbone = load_backbone(tmp_path/'tsn.pth', device='cpu')
    assert isinstance(backbone, ResNet50) and backbone.feature_dim == 256 and backbone.normalisation == IMAGENET_NORM
    mean, std = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1), torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    rgb = (FRAMES.permute(0, 3, 1, 2).float() / 255 - mean) / std
    with torch.no_grad():
        torch.testing.assert_close(backbone(frames_to_tensor(FRAMES, backbone.normalisation)), resnet(rgb), atol=1e-4, rtol=1e-4)


# --- refusals ------------------------------------------------------------------------------------------------------

class Hook:
    "A class of the training script, pickled with the weights: loading it would import and run that script's code."
    def __init__(self): self.calls = 0


def test_a_file_holding_code_is_refused(tmp_path):
    torch.save({'epoch': 3, 'hook': Hook(), 'model': original_mlp(1, True, False)}, tmp_path/'trn_1_frames.pth')
    with pytest.raises(ValueError, match=r"trn_1_frames.pth holds a pickled Python object \(test_original_files.Hook\) besides "
                                         r"tensors, and unpickling it could run code; play_fair reads tensors and plain values only"):
        load_model(tmp_path/'trn_1_frames.pth')
    torch.save({'last_linear.weight': torch.zeros(2, 2), 'hook': Hook()}, tmp_path/'trn.pth')
    with pytest.raises(ValueError, match=r"holds a pickled Python object \(test_original_files.Hook\)"):
        load_backbone(tmp_path/'trn.pth')


def test_a_damaged_file_is_refused(tmp_path):
    (tmp_path/'tsn.pth').write_bytes(b'PK\x03\x04 not really')
    with pytest.raises(ValueError, match="tsn.pth is not a file torch.save wrote, or it is damaged"): load_model(tmp_path/'tsn.pth')
    with pytest.raises(FileNotFoundError, match="There is no checkpoint file at"): load_model(tmp_path/'absent.pth')


def test_an_unknown_layout_is_refused(tmp_path):
    torch.save({'encoder.weight': torch.zeros(3, 3), 'encoder.bias': torch.zeros(3), 'head.weight': torch.zeros(2, 3)}, tmp_path/'x.pth')
    message = (r"x.pth is none of the original research code's files \(TRN, multiscale TRN or TSN heads, BN-Inception or "
               r"ResNet-50 backbones\): its keys are 'encoder.weight', 'encoder.bias', 'head.weight'.")
    with pytest.raises(ValueError, match=message): load_model(tmp_path/'x.pth')
    with pytest.raises(ValueError, match=message): load_backbone(tmp_path/'x.pth')


def test_layouts_that_are_not_the_originals_head_are_refused(tmp_path):
    deep = nn.Sequential(nn.Dropout(), nn.Linear(2 * D, H), nn.ReLU(), nn.Linear(H, H), nn.ReLU(), nn.Linear(H, C))
    torch.save({f'model.{k}': t for k, t in deep.state_dict().items()}, tmp_path/'trn_2_frames.pth')
    with pytest.raises(ValueError, match=r"has 3 linear layers \(model.1, model.3, model.5\); play_fair's TRN, like the original's "
                                         r"default, has two \(one hidden layer\)"):
        load_model(tmp_path/'trn_2_frames.pth')
    sd = original_mlp(2, batch_norm=True, input_relu=False)
    torch.save({k.replace('model.4.', 'model.6.'): t for k, t in sd.items()}, tmp_path/'trn_2_frames.pth')
    with pytest.raises(ValueError, match=r"has layers at model.1, model.2, model.6, which is not the layout of the original's TRN "
                                         r"head: \[ReLU,\] dropout, linear, \[batch-norm,\] ReLU, linear"):
        load_model(tmp_path/'trn_2_frames.pth')


@pytest.mark.parametrize('key, shape, message', [
    ('model.4.weight', (C, H + 1), r"tensor 'model.4.weight' has shape \(5, 11\), but after a first layer of 10 units it must be \(5, 10\)"),
    ('model.2.running_var', (H - 1,), r"tensor 'model.2.running_var' has shape \(9,\), but after a first layer of 10 units it must be \(10,\)"),
    ('model.4.bias', (C + 1,), r"tensor 'model.4.bias' has shape \(6,\), but after a first layer of 10 units it must be \(5,\)"),
])
def test_a_size_mismatch_in_a_head_is_refused(tmp_path, key, shape, message):
    sd = original_mlp(2, batch_norm=True, input_relu=False)
    torch.save({**sd, key: torch.zeros(shape)}, tmp_path/'trn_2_frames.pth')
    with pytest.raises(ValueError, match=f"In {tmp_path/'trn_2_frames.pth'}, {message}"): load_model(tmp_path/'trn_2_frames.pth')


def test_a_size_mismatch_between_scales_is_refused(tmp_path):
    _, sd = mtrn_file(2, batch_norm=True, input_relu=False)
    sd['single_scale_models.1.model.1.weight'] = torch.zeros(H, 2 * D + 2)
    torch.save(sd, tmp_path/'mtrn_2_frames.pth')
    with pytest.raises(ValueError, match=r"The heads in .*mtrn_2_frames.pth differ in input_dim \(\[6, 7\]\); a multiscale TRN's heads share it"):
        load_model(tmp_path/'mtrn_2_frames.pth')
    _, sd = mtrn_file(3, batch_norm=False, input_relu=False)
    torch.save({k: t for k, t in sd.items() if not k.startswith('single_scale_models.1.')}, tmp_path/'mtrn_3_frames.pth')
    with pytest.raises(ValueError, match=r"holds the scales \[1, 3\] of a multiscale TRN, which needs every scale from 1 up"):
        load_model(tmp_path/'mtrn_3_frames.pth')


def test_a_size_mismatch_in_a_backbone_is_refused(tmp_path):
    sd = {k: t for k, t in BNInceptionTrunk().state_dict().items()}
    torch.save({**sd, 'last_linear.weight': torch.zeros(256, 1000), 'last_linear.bias': torch.zeros(256)}, tmp_path/'trn.pth')
    with pytest.raises(ValueError, match=r"last_linear has a weight of shape \(256, 1000\) and a bias of shape \(256,\), but "
                                         r"projecting the trunk's 1024 pooled features to D features takes \(D, 1024\) and \(D,\)"):
        load_backbone(tmp_path/'trn.pth')
    sd['inception_4a_1x1.weight'] = torch.zeros(224, 570, 1, 1)
    torch.save({**sd, 'last_linear.weight': torch.zeros(256, 1024), 'last_linear.bias': torch.zeros(256)}, tmp_path/'trn.pth')
    with pytest.raises(ValueError, match=r"tensor 'inception_4a_1x1.weight' has shape \(224, 570, 1, 1\) but the bninception trunk "
                                         r"expects \(224, 576, 1, 1\)"):
        load_backbone(tmp_path/'trn.pth')


def test_a_file_given_to_the_other_loader_is_refused(tmp_path):
    sd = {k: t for k, t in BNInceptionTrunk().state_dict().items()}
    torch.save({**sd, 'last_linear.weight': torch.zeros(256, 1024), 'last_linear.bias': torch.zeros(256)}, tmp_path/'trn.pth')
    with pytest.raises(ValueError, match=r"trn.pth holds the BN-Inception backbone of the original's TRN \(backbones/trn.pth\), "
                                         "which load_backbone reads"):
        load_model(tmp_path/'trn.pth')
    torch.save(original_mlp(2, True, False), tmp_path/'trn_2_frames.pth')
    with pytest.raises(ValueError, match=r"holds a TRN head of the original \(features/trn_\{k\}_frames.pth\), a temporal model, "
                                         "which load_model reads"):
        load_backbone(tmp_path/'trn_2_frames.pth')
    torch.save({'classifier.weight': torch.zeros(C, D), 'classifier.bias': torch.zeros(C)}, tmp_path/'tsn.pth')
    with pytest.raises(ValueError, match=r"tsn.pth is not a TRN head; a multiscale TRN is built from trn_\{k\}_frames.pth heads or "
                                         r"read from one mtrn_\{n\}_frames.pth"):
        load_original_mtrn([tmp_path/'trn_2_frames.pth', tmp_path/'tsn.pth'])


def test_options_a_file_records_itself_are_refused(tmp_path):
    torch.save(original_mlp(2, True, True), tmp_path/'trn_2_frames.pth')
    with pytest.raises(ValueError, match="whose keys say whether it has an input ReLU; input_relu is for the original's tsn.pth"):
        load_model(tmp_path/'trn_2_frames.pth', input_relu=False)
    torch.save({'classifier.weight': torch.zeros(C, D), 'classifier.bias': torch.zeros(C)}, tmp_path/'tsn.pth')
    with pytest.raises(ValueError, match=r"holds the feature TSN of the original \(features/tsn.pth\); n_frames is for one TRN head"):
        load_model(tmp_path/'tsn.pth', n_frames=2)
    save_model(FeatureTSN(D, C), tmp_path/'folder')
    with pytest.raises(ValueError, match="is a play_fair checkpoint folder, whose config.json says what the model is"):
        load_model(tmp_path/'folder', input_relu=False)


def test_compute_esvs_on_the_originals_files(tmp_path):
    "compute-esvs as a user of the original runs it, on its mtrn_{n}_frames.pth and its feature file, unconverted: the ESVs are the original model's."
    import h5py
    from test_original_data import original_split, write_original_features
    from play_fair.batch import compute_esvs_cli
    from play_fair.cli import run_command
    from play_fair.priors import save_priors
    from play_fair.results import read_esvs
    heads, sd = mtrn_file(3, batch_norm=True, input_relu=False)
    torch.save(sd, tmp_path/'mtrn_3_frames.pth')
    videos, uids, labels = original_split(2, 4)
    with h5py.File(tmp_path/'trn.hdf', 'w') as f: write_original_features(f.create_group('validation'), videos, uids, labels)
    priors = torch.full((C,), 1 / C, dtype=torch.float64)
    save_priors(priors.numpy(), [f'c{c}' for c in range(C)], tmp_path/'priors.csv')
    assert run_command(compute_esvs_cli, [tmp_path/'mtrn_3_frames.pth', tmp_path/'priors.csv', tmp_path/'esvs.h5', '--features',
                                          tmp_path/'trn.hdf', '--sample-n-frames', 4, '--device', 'cpu', '--quiet']) == 0
    res = read_esvs(tmp_path/'esvs.h5')
    assert res['uids'].tolist() == uids
    model = lambda x: reference_multiscale(heads, x, batch_norm=True, input_relu=False)
    for row, i in enumerate(res['frame_idx']):
        x = torch.from_numpy(videos[row][i]).double()
        torch.testing.assert_close(torch.from_numpy(res['esvs'][row]).double(), reference_esvs(model, x, priors), atol=1e-5, rtol=0)
