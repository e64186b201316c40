"Shapley axioms and agreement with the definition for the exact ESV engines, on random games and random models."
import subprocess, sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings, strategies as st

from play_fair.esv import (ESVTooLargeError, GRUHead, all_coalitions, brute_force_esvs, characteristic_fn, exact_esvs,
                           shapley_from_game, table_game)
from play_fair.models import TRN, FeatureTSN, MultiscaleTRN
from play_fair.multiscale import multiscale_esvs

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = settings(max_examples=25, deadline=None)
D, H, C = 5, 7, 3


def random_table(seed, n_frames, n_values=C):
    return torch.randn(2**n_frames, n_values, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def random_model(kind, seed, n_heads=3):
    torch.manual_seed(seed)
    model = {'tsn': lambda: FeatureTSN(D, C), 'gru': lambda: GRUHead(D, H, C),
             'mtrn': lambda: MultiscaleTRN([TRN(k, D, H, C) for k in range(1, n_heads + 1)])}[kind]()
    return model.double().eval()


def random_inputs(seed, n_frames, n_videos=None):
    g = torch.Generator().manual_seed(seed)
    shape = (n_frames, D) if n_videos is None else (n_videos, n_frames, D)
    return torch.randn(*shape, dtype=torch.float64, generator=g), torch.rand(C, dtype=torch.float64, generator=g).softmax(0)


frames = st.integers(1, 6)
seeds = st.integers(0, 2**16)
kinds = st.sampled_from(['tsn', 'gru', 'mtrn'])


# --- games -----------------------------------------------------------------------------------------------------------

@SETTINGS
@given(frames, seeds, st.integers(1, 50))
def test_lattice_walk_equals_permutation_definition(T, seed, chunk_size):
    game = table_game(random_table(seed, T))
    torch.testing.assert_close(shapley_from_game(game, T, chunk_size=chunk_size), brute_force_esvs(game, T),
                               rtol=0, atol=1e-10)


@SETTINGS
@given(frames, seeds)
def test_efficiency(T, seed):
    table = random_table(seed, T)
    torch.testing.assert_close(shapley_from_game(table_game(table), T).sum(0), table[-1] - table[0], rtol=0, atol=1e-10)


@SETTINGS
@given(st.integers(2, 6), seeds, st.data())
def test_symmetry(T, seed, data):
    "Two players that are interchangeable in every coalition get the same value."
    i, j = data.draw(st.lists(st.integers(0, T - 1), min_size=2, max_size=2, unique=True))
    masks = torch.arange(2**T)
    bit_i, bit_j = (masks >> i) & 1, (masks >> j) & 1
    swapped = masks & ~((1 << i) | (1 << j)) | (bit_i << j) | (bit_j << i)
    table = random_table(seed, T)
    table = (table + table[swapped]) / 2
    esvs = shapley_from_game(table_game(table), T)
    torch.testing.assert_close(esvs[i], esvs[j], rtol=0, atol=1e-10)


@SETTINGS
@given(frames, seeds, st.data())
def test_null_player(T, seed, data):
    "A player that never changes a coalition's value gets zero."
    i = data.draw(st.integers(0, T - 1))
    masks = torch.arange(2**T)
    table = random_table(seed, T)[masks & ~(1 << i)]
    torch.testing.assert_close(shapley_from_game(table_game(table), T)[i], torch.zeros(C, dtype=torch.float64),
                               rtol=0, atol=1e-10)


@SETTINGS
@given(frames, seeds, st.floats(-3, 3), st.floats(-3, 3))
def test_linearity(T, seed, a, b):
    v, w = random_table(seed, T), random_table(seed + 1, T)
    combined = shapley_from_game(table_game(a * v + b * w), T)
    torch.testing.assert_close(combined, a * shapley_from_game(table_game(v), T) + b * shapley_from_game(table_game(w), T),
                               rtol=0, atol=1e-9)


def test_all_coalitions_are_indexed_by_bitmask():
    rows = all_coalitions(4)
    assert [int(sum(int(b) << i for i, b in enumerate(r))) for r in rows] == list(range(16))


# --- models ----------------------------------------------------------------------------------------------------------

@SETTINGS
@given(kinds, frames, seeds)
def test_exact_esvs_equal_brute_force(kind, T, seed):
    model, (x, priors) = random_model(kind, seed), random_inputs(seed, T)
    result = exact_esvs(model, x, priors)
    torch.testing.assert_close(result.values, brute_force_esvs(characteristic_fn(model, x, priors), T), rtol=0, atol=1e-9)
    torch.testing.assert_close(result.values.sum(0), result.scores - priors, rtol=0, atol=1e-10)
    torch.testing.assert_close(result.scores, model(x[None])[0].softmax(-1), rtol=0, atol=1e-12)


@SETTINGS
@given(kinds, st.integers(2, 6), seeds, st.data())
def test_identical_adjacent_frames_get_identical_values(kind, T, seed, data):
    "Two equal frames side by side are interchangeable players for any model, order-sensitive or not."
    i = data.draw(st.integers(0, T - 2))
    model, (x, priors) = random_model(kind, seed), random_inputs(seed, T)
    x[i + 1] = x[i]
    values = exact_esvs(model, x, priors).values
    torch.testing.assert_close(values[i], values[i + 1], rtol=0, atol=1e-10)


@SETTINGS
@given(st.integers(2, 6), seeds, st.data())
def test_tsn_identical_frames_anywhere_get_identical_values(T, seed, data):
    "A TSN ignores frame order, so equal frames anywhere in the clip are interchangeable."
    i, j = data.draw(st.lists(st.integers(0, T - 1), min_size=2, max_size=2, unique=True))
    model, (x, priors) = random_model('tsn', seed), random_inputs(seed, T)
    x[j] = x[i]
    values = exact_esvs(model, x, priors).values
    torch.testing.assert_close(values[i], values[j], rtol=0, atol=1e-10)


@SETTINGS
@given(kinds, st.integers(1, 5), st.integers(1, 3), seeds, st.integers(1, 20))
def test_batches_and_chunks_change_nothing(kind, T, B, seed, chunk_size):
    model, (xs, priors) = random_model(kind, seed), random_inputs(seed, T, B)
    batched = exact_esvs(model, xs, priors, chunk_size=chunk_size)
    for b in range(B):
        torch.testing.assert_close(batched.values[b], exact_esvs(model, xs[b], priors).values, rtol=0, atol=1e-12)


@SETTINGS
@given(st.integers(1, 7), st.integers(1, 4), st.integers(1, 3), seeds, st.integers(1, 40), st.booleans())
def test_multiscale_equals_black_box(T, n_heads, B, seed, chunk_size, batch_norm):
    torch.manual_seed(seed)
    heads = [TRN(k, D, H, C, batch_norm=batch_norm).double() for k in range(1, n_heads + 1)]
    for h in heads:
        if h.norm is not None:
            h.norm.running_mean.normal_(); h.norm.running_var.uniform_(0.5, 2)
    mtrn = MultiscaleTRN(heads).eval()
    xs, priors = random_inputs(seed, T, B)
    fast = multiscale_esvs(mtrn, xs, priors, chunk_size=chunk_size)
    torch.testing.assert_close(fast.values, exact_esvs(mtrn, xs, priors).values, rtol=0, atol=1e-10)
    torch.testing.assert_close(fast.scores, mtrn(xs).softmax(-1), rtol=0, atol=1e-12)


@SETTINGS
@given(st.integers(1, 7), seeds)
def test_float32_close_to_float64(T, seed):
    model, (x, priors) = random_model('mtrn', seed), random_inputs(seed, T)
    exact64 = multiscale_esvs(model, x, priors).values
    fast32 = multiscale_esvs(model.float(), x.float(), priors.float())
    assert fast32.values.dtype == torch.float32
    torch.testing.assert_close(fast32.values, exact64.float(), rtol=0, atol=1e-5)
    torch.testing.assert_close(exact_esvs(model, x.float(), priors.float()).values, exact64.float(), rtol=0, atol=1e-5)


def test_training_mode_is_restored():
    model, (x, priors) = random_model('mtrn', 0), random_inputs(0, 4)
    model.train()
    exact_esvs(model, x, priors), multiscale_esvs(model, x, priors)
    assert all(m.training for m in model.modules())


# --- memory and devices ----------------------------------------------------------------------------------------------

def test_too_large_is_refused_with_a_clear_sentence():
    heads = [TRN(k, 256, 256, 174) for k in range(1, 9)]
    with pytest.raises(ESVTooLargeError, match=r"need about .* GiB .* limit is .*approximate_esvs"):
        multiscale_esvs(heads, torch.randn(24, 256), torch.full((174,), 1 / 174), max_memory=2**30)
    with pytest.raises(ESVTooLargeError, match="approximate_esvs"):
        exact_esvs(FeatureTSN(256, 174), torch.randn(40, 256), torch.full((174,), 1 / 174))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
def test_gpu_matches_cpu():
    model, (x, priors) = random_model('mtrn', 0), random_inputs(0, 6)
    for engine in (exact_esvs, multiscale_esvs):
        torch.testing.assert_close(engine(model, x, priors, device='cuda').values,
                                   engine(model, x, priors, device='cpu').values, rtol=0, atol=1e-10)


def test_benchmark_smoke():
    "The speed benchmark runs end to end at tiny sizes (timings are its output, not asserted here)."
    out = subprocess.run([sys.executable, str(ROOT / 'benchmarks' / 'esv_speed.py'), '--quick'], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert '| mtrn_T8_x1000 |' in out.stdout and '| tsn_T24 |' in out.stdout


def test_multiscale_deep_lattice_with_one_head_equals_tsn():
    "With one head, F is the mean of per-frame logits: a TSN. 19 frames go deep enough that the level scale saturates."
    torch.manual_seed(0)
    T, head = 19, TRN(1, D, H, C).double().eval()
    x, priors = random_inputs(0, T)
    frame_logits = head(x[:, None])                                      # (T, C)
    tsn = FeatureTSN(C, C).double().eval()
    with torch.no_grad():
        tsn.classifier.weight.copy_(torch.eye(C)); tsn.classifier.bias.fill_(-100.)
    expected = exact_esvs(tsn, frame_logits + 100., priors)              # relu(L + 100) - 100 = L
    result = multiscale_esvs([head], x, priors)
    torch.testing.assert_close(result.scores, frame_logits.mean(0).softmax(-1), rtol=0, atol=1e-12)
    torch.testing.assert_close(result.values, expected.values, rtol=0, atol=1e-10)
