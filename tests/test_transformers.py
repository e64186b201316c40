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
