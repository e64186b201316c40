"Temporal transformers and Hugging Face video transformers as ESV players: exact ESVs against the permutation definition, positions, checkpoints."
import pytest, torch

from play_fair.approximate import approximate_esvs
from play_fair.esv import brute_force_esvs, characteristic_fn, exact_esvs
from play_fair.models import TemporalTransformer, load_model, save_model


def _priors(n_classes): return torch.full((n_classes,), 1 / n_classes, dtype=torch.float64)


@pytest.mark.parametrize('positional, pooling', [('sinusoidal', 'mean'), ('learned', 'cls')])
def test_temporal_transformer_exact_esvs_equal_the_permutation_definition(positional, pooling):
    torch.manual_seed(0)
    model = TemporalTransformer(5, 4, d_model=16, n_heads=2, dim_feedforward=32, positional=positional,
                                pooling=pooling).double().eval()
    clip, priors = torch.randn(6, 5, dtype=torch.float64), _priors(4)
    exact = exact_esvs(model, clip, priors, device='cpu')
    definition = brute_force_esvs(characteristic_fn(model, clip, priors), 6)
    torch.testing.assert_close(exact.values, definition, rtol=0, atol=1e-12)
    with torch.no_grad(): full = model(clip[None]).softmax(-1)[0]
    torch.testing.assert_close(exact.scores, full, rtol=0, atol=1e-12)
    torch.testing.assert_close(exact.values.sum(0), full - priors, rtol=0, atol=1e-12)


def test_dropping_frames_keeps_their_original_positions():
    torch.manual_seed(1)
    model = TemporalTransformer(3, 2, d_model=8, n_heads=2, dim_feedforward=16).double().eval()
    clip, priors = torch.randn(5, 3, dtype=torch.float64), _priors(2)
    kept = torch.tensor([[False, True, False, True, True]])
    with torch.no_grad():
        value = characteristic_fn(model, clip, priors)(kept)[0]
        at_original = model(clip[None, [1, 3, 4]], positions=torch.tensor([1, 3, 4])).softmax(-1)[0]
        renumbered = model(clip[None, [1, 3, 4]]).softmax(-1)[0]
    torch.testing.assert_close(value, at_original, rtol=0, atol=1e-12)
    assert not torch.allclose(value, renumbered), "a kept frame must keep its original position, not be renumbered"


def test_temporal_transformer_checkpoint_and_approximate_engine(tmp_path):
    torch.manual_seed(2)
    model = TemporalTransformer(5, 3, d_model=16, n_heads=2, dim_feedforward=32).eval()
    save_model(model, tmp_path/'tt')
    back = load_model(tmp_path/'tt', device='cpu').double()
    clip, priors = torch.randn(6, 5, dtype=torch.float64), _priors(3)
    exact = exact_esvs(back, clip, priors, device='cpu')
    approx = approximate_esvs(back, clip, priors, budget=2**6, method='kernelshap', device='cpu')
    torch.testing.assert_close(approx.values, exact.values, rtol=0, atol=1e-6)


# --- Hugging Face video transformers: players are the temporal token groups ---

import json, math
import numpy as np
import torch.nn.functional as F

transformers = pytest.importorskip('transformers')
from play_fair.video_transformers import VideoTransformerPlayers, save_video_transformer, tiny_videomae


def _videomae(num_frames=12, layers=2, n_classes=3, seed=0):
    torch.manual_seed(seed)
    config = transformers.VideoMAEConfig(image_size=32, patch_size=16, num_frames=num_frames, tubelet_size=2, hidden_size=32,
                                         num_hidden_layers=layers, num_attention_heads=4, intermediate_size=64, num_labels=n_classes)
    return transformers.VideoMAEForVideoClassification(config).eval()


def _clip(model, seed=0):
    frames = np.random.default_rng(seed).integers(0, 256, (model.num_frames, 32, 32, 3), dtype=np.uint8)
    return frames, model.players(frames).double()


def _by_hand(hf, pixels, kept):
    "VideoMAE written out from its weights: tubelet embedding, sine/cosine positions, pre-norm layers, mean pooling."
    cfg, conv = hf.config, hf.videomae.embeddings.patch_embeddings.projection
    tokens = F.conv3d(pixels.transpose(1, 2), conv.weight, conv.bias, stride=conv.stride).flatten(2).transpose(1, 2)
    n, d = tokens.shape[1], cfg.hidden_size
    j = torch.arange(d)
    angle = torch.arange(n, dtype=torch.float64)[:, None] / 10000 ** (2 * (j // 2) / d)
    tokens = tokens + torch.where(j % 2 == 0, angle.sin(), angle.cos()).to(tokens)
    P = (cfg.image_size // cfg.patch_size) ** 2
    h = tokens[:, [g * P + p for g in kept for p in range(P)]]
    heads, dh = cfg.num_attention_heads, d // cfg.num_attention_heads
    for layer in hf.videomae.encoder.layer:
        att, ln1, ln2 = layer.attention.attention, layer.layernorm_before, layer.layernorm_after
        a = F.layer_norm(h, (d,), ln1.weight, ln1.bias, ln1.eps)
        q, k, v = (F.linear(a, lin.weight, lin.bias).unflatten(-1, (heads, dh)).transpose(1, 2) for lin in (att.query, att.key, att.value))
        mixed = ((q @ k.transpose(-1, -2)) / math.sqrt(dh)).softmax(-1) @ v
        h = h + F.linear(mixed.transpose(1, 2).flatten(2), layer.attention.output.dense.weight, layer.attention.output.dense.bias)
        m = F.layer_norm(h, (d,), ln2.weight, ln2.bias, ln2.eps)
        m = F.gelu(F.linear(m, layer.intermediate.dense.weight, layer.intermediate.dense.bias))
        h = h + F.linear(m, layer.output.dense.weight, layer.output.dense.bias)
    pooled = F.layer_norm(h.mean(1), (d,), hf.fc_norm.weight, hf.fc_norm.bias, hf.fc_norm.eps)
    return F.linear(pooled, hf.classifier.weight, hf.classifier.bias)


def test_full_clip_value_is_the_models_own_softmax():
    model = VideoTransformerPlayers(_videomae()).double().eval()
    frames, players = _clip(model)
    priors = _priors(3)
    with torch.no_grad():
        own = model.hf(pixel_values=torch.as_tensor(players).view(1, 12, 3, 32, 32)).logits.softmax(-1)[0]
        value = characteristic_fn(model, players, priors)(torch.ones(1, 6, dtype=torch.bool))[0]
    torch.testing.assert_close(value, own, rtol=0, atol=1e-12)
    torch.testing.assert_close(characteristic_fn(model, players, priors)(torch.zeros(1, 6, dtype=torch.bool))[0], priors)


def test_a_subset_equals_a_hand_written_two_layer_forward_pass():
    model = VideoTransformerPlayers(_videomae(layers=2)).double().eval()
    _, players = _clip(model, seed=1)
    pixels = players.view(1, 12, 3, 32, 32)
    for kept in ([0, 2, 5], [3], [1, 2, 3, 4, 5], list(range(6))):
        with torch.no_grad():
            wrapped = model(players[None, kept], positions=torch.tensor(kept))
            by_hand = _by_hand(model.hf, pixels, kept)
        torch.testing.assert_close(wrapped, by_hand, rtol=0, atol=1e-7)   # the library keeps its position table in float32
    with torch.no_grad():   # renumbering the kept groups (a shorter clip) is another model, so positions matter
        assert not torch.allclose(model(players[None, [0, 5]], positions=torch.tensor([0, 5])), _by_hand(model.hf, pixels, [0, 1]))


def test_exact_esvs_of_a_video_transformer_equal_the_permutation_definition():
    model = VideoTransformerPlayers(_videomae(seed=3)).double().eval()
    _, players = _clip(model, seed=2)
    priors = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    exact = exact_esvs(model, players, priors, device='cpu')
    definition = brute_force_esvs(characteristic_fn(model, players, priors), 6)
    torch.testing.assert_close(exact.values, definition, rtol=0, atol=1e-12)
    approx = approximate_esvs(model, players, priors, budget=2**6, method='kernelshap', device='cpu')
    torch.testing.assert_close(approx.values, definition, rtol=0, atol=1e-8)


def test_save_pretrained_then_load_model(tmp_path):
    model = tiny_videomae(['a', 'b', 'c'], image_size=32, num_frames=8, hidden_size=32, layers=1)
    model.preprocessing = model.preprocessing._replace(norm=model.preprocessing.norm._replace(mean=(0.4, 0.5, 0.6), std=(0.2, 0.3, 0.4)))
    save_video_transformer(model, tmp_path/'m')
    assert json.loads((tmp_path/'m'/'config.json').read_text())['model_type'] == 'videomae'
    back = load_model(tmp_path/'m', device='cpu')
    assert back.class_names == ['a', 'b', 'c'] and back.preprocessing == model.preprocessing
    frames = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    with torch.no_grad():
        torch.testing.assert_close(back(back.players(frames)[None]), model.eval()(model.players(frames)[None]), rtol=0, atol=1e-6)
    plain = tmp_path/'plain'                       # a folder save_pretrained wrote alone, no image processor
    model.hf.save_pretrained(plain)
    assert load_model(plain, device='cpu').n_groups == 4


def test_a_model_type_without_a_token_drop_is_refused(tmp_path):
    config = transformers.VivitConfig(image_size=32, num_frames=4, tubelet_size=[2, 16, 16], hidden_size=32, num_hidden_layers=1,
                                      num_attention_heads=4, intermediate_size=64, num_labels=3)
    transformers.VivitForVideoClassification(config).save_pretrained(tmp_path/'vivit')
    with pytest.raises(ValueError, match="which are: videomae"): load_model(tmp_path/'vivit')
