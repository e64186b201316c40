"Property checks of play_fair.approximate that are too slow or too many for the notebook's examples."
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

from play_fair.approximate import ESTIMATORS, METHODS, approximate_esvs
from play_fair.sampling import MultiscaleGame, kernel_plan
from play_fair.surrogates import subset_moments
from play_fair.esv import exact_esvs
from play_fair.models import TRN, FeatureTSN, MultiscaleTRN
from play_fair.multiscale import multiscale_esvs

@pytest.fixture(autouse=True)
def no_grad():
    "These tests need no gradients; switch them off for each test only, not for the rest of the session."
    with torch.no_grad(): yield


def models(D=8, H=12, C=5, m=3, scale=3., seed=0):
    torch.manual_seed(seed)
    tsn = FeatureTSN(D, C).eval().double()
    heads = [TRN(s, D, H, C).eval().double() for s in range(1, m + 1)]
    for layer in [tsn.classifier] + [h.model[3] for h in heads]: layer.weight.data *= scale
    return tsn, heads


def rel(a, b): return float(((a - b)**2).sum() / (b**2).sum())


@settings(max_examples=15, deadline=None)
@given(T=st.integers(2, 7), seed=st.integers(0, 1000))
def test_kernelshap_with_every_coalition_is_exact(T, seed):
    "A budget that covers all 2^T - 1 non-empty coalitions gives the exact ESVs, for both kinds of model."
    tsn, heads = models(seed=seed)
    x = torch.randn(T, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    priors = torch.full((5,), .2, dtype=torch.float64)
    r = approximate_esvs(tsn, x, priors, budget=2**T - 1, method='kernelshap', seed=seed)
    assert rel(r.values, exact_esvs(tsn, x, priors).values) < 1e-18
    assert r.n_evaluations <= 2**T - 1


@settings(max_examples=10, deadline=None)
@given(T=st.integers(2, 9), seed=st.integers(0, 1000), method=st.sampled_from(METHODS))
def test_efficiency_and_shapes(T, seed, method):
    "Every method returns finite (T, C) values and standard errors; the ESVs add up to v(N) − v(∅) (kernel: exactly)."
    tsn, heads = models(seed=seed)
    x = torch.randn(T, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    priors = torch.tensor([.3, .2, .2, .2, .1], dtype=torch.float64)
    for model in (tsn, heads):
        r = approximate_esvs(model, x, priors, budget=4 * T * T, method=method, seed=seed)
        assert r.values.shape == (T, 5) and r.stderr.shape == (T, 5) and r.scores.shape == (5,)
        assert torch.isfinite(r.values).all() and not (r.stderr < 0).any()
        assert r.n_evaluations <= 4 * T * T
        if method != 'constructive': assert torch.allclose(r.values.sum(0), r.scores - priors, atol=1e-10)


def test_multiscale_coalition_values_are_unbiased():
    "The sub-sampled multiscale logits average to the reference model's logits on a coalition."
    _, heads = models(m=4)
    x = torch.randn(9, 8, dtype=torch.float64)
    game = MultiscaleGame(heads, x, torch.full((5,), .2, dtype=torch.float64), pool_budget=0, sub_samples=2)
    S = torch.tensor([[1, 1, 0, 1, 1, 1, 0, 1, 1]], dtype=torch.bool)
    draws = torch.stack([game.logits(S, torch.Generator().manual_seed(i))[0] for i in range(3000)])
    ref = MultiscaleTRN(heads)(x[S[0]][None])[0]
    assert ((draws.mean(0) - ref).abs() < 5 * draws.std(0) / 3000**.5 + 1e-12).all()


def test_subset_moments_match_enumeration():
    "The power sums of the dynamic programme equal brute-force sums over every s-subset (several heads at once)."
    from itertools import combinations
    torch.manual_seed(1)
    T, H, sizes = 9, 7, [2, 4]
    tables = torch.zeros(2, 4, T, H, dtype=torch.float64)
    for h, s in enumerate(sizes): tables[h, :s] = torch.randn(s, T, H, dtype=torch.float64)
    bias = torch.randn(2, H, dtype=torch.float64)
    total, containing = subset_moments(tables, sizes, bias, 4)
    for h, s in enumerate(sizes):
        subsets = torch.tensor(list(combinations(range(T), s)))
        pre = tables[h, torch.arange(s), subsets].sum(1) + bias[h]
        for p in range(5):
            assert torch.allclose(total[h, p], (pre**p).sum(0), rtol=1e-9)
            for i in range(T):
                assert torch.allclose(containing[h, p, i], (pre[(subsets == i).any(1)]**p).sum(0), rtol=1e-9)


def test_surrogate_beats_constructive_on_a_multiscale_model():
    "At equal head-evaluation budgets the default is far more accurate than the original sampler (12 frames, 4 heads)."
    _, heads = models(D=16, H=24, C=7, m=4, scale=2.)
    priors = torch.softmax(torch.randn(7, dtype=torch.float64), 0)
    for seed in range(3):
        x = torch.randn(12, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        exact = multiscale_esvs(heads, x, priors).values
        for budget in (100, 400):
            default = rel(approximate_esvs(heads, x, priors, budget=budget, seed=seed).values, exact)
            original = rel(approximate_esvs(heads, x, priors, budget=budget, method='constructive', seed=seed).values, exact)
            assert default * 10 < original, (budget, default, original)


def test_long_videos():
    "256 frames work for both kinds of model within the budget, and a batch's first video matches a single call."
    tsn, heads = models(D=8, H=8, C=4, m=3)
    priors = torch.full((4,), .25, dtype=torch.float64)
    x = torch.randn(256, 8, dtype=torch.float64)
    for model in (tsn, heads):
        r = approximate_esvs(model, x, priors, budget=2048)
        assert r.values.shape == (256, 4) and torch.isfinite(r.values).all() and r.n_evaluations <= 2048
    batch = approximate_esvs(tsn, torch.stack([x[:40], x[40:80]]), priors, budget=300, method='permutation', seed=5)
    single = approximate_esvs(tsn, x[:40], priors, budget=300, method='permutation', seed=5)
    assert torch.equal(batch.values[0], single.values)


def test_general_heads_get_a_fitted_surrogate():
    "Multiscale heads that are not TRNs get a surrogate fitted to their outputs: close on heads it can fit, never above the budget."
    class Pool(nn.Module):
        def __init__(self, k): super().__init__(); self.n_frames, self.lin = k, nn.Linear(8, 5)
        def forward(self, x): return self.lin(x).mean(1) * x.shape[1]
    heads = [Pool(k).double() for k in (1, 2, 3)]
    x = torch.randn(7, 8, dtype=torch.float64)
    priors = torch.full((5,), .2, dtype=torch.float64)
    exact = multiscale_esvs(heads, x, priors).values
    r = approximate_esvs(heads, x, priors, budget=62, seed=1)     # the exact ESVs cost 7 + 21 + 35 head evaluations
    assert r.estimator == ('multiscale', 'surrogate') and r.n_evaluations <= 62, (r.estimator, r.n_evaluations)
    assert torch.allclose(r.values.sum(0), r.scores - priors, atol=1e-10)
    assert rel(r.values, exact) < 1e-4, rel(r.values, exact)        # additive heads: the fit is all but exact
    kernelshap = approximate_esvs(heads, x, priors, budget=62, seed=1, method='kernelshap')
    assert rel(r.values, exact) < rel(kernelshap.values, exact) / 10, (rel(r.values, exact), rel(kernelshap.values, exact))
    r = approximate_esvs(heads, x, priors, budget=63)
    assert r.estimator == ('multiscale', 'exact') and rel(r.values, exact) < 1e-20, (r.estimator, rel(r.values, exact))


def test_constructive_options():
    "max_samples and n_iters are honoured and checked against the budget."
    tsn, _ = models()
    x = torch.randn(8, 8, dtype=torch.float64)
    priors = torch.full((5,), .2, dtype=torch.float64)
    r = approximate_esvs(tsn, x, priors, budget=500, method='constructive', max_samples=16, n_iters=2)
    assert r.n_evaluations <= 2 * sum(min(16, c) for c in (8, 28, 56, 70, 56, 28, 8, 1))
    with pytest.raises(ValueError, match='at least'):
        approximate_esvs(tsn, x, priors, budget=50, method='constructive', max_samples=16, n_iters=2)


def test_kernel_plan_spends_the_budget():
    "The plan never spends more than the budget, and enumerates the smallest sizes first."
    for T, budget in ((10, 50), (16, 1000), (40, 3000), (256, 4096)):
        enumerated, pairs = kernel_plan(T, budget)
        from math import comb
        spent = sum(comb(T, k) for k in enumerated) + 2 * sum(pairs.values())
        assert spent <= budget
        assert enumerated == sorted(enumerated, key=lambda k: min(k, T - k))


@pytest.mark.skipif(not torch.cuda.is_available(), reason='no GPU')
def test_cuda_matches_cpu():
    tsn, heads = models()
    x = torch.randn(10, 8, dtype=torch.float64)
    priors = torch.full((5,), .2, dtype=torch.float64)
    for model in (tsn, heads):
        a = approximate_esvs(model, x, priors, budget=300, device='cpu')
        b = approximate_esvs(model, x, priors, budget=300, device='cuda')
        assert torch.allclose(a.values, b.values.cpu(), atol=1e-6)


@pytest.mark.parametrize('kind', ['model', 'multiscale'])
def test_each_estimator_keeps_to_its_minimum_budget(kind):
    "Every sampled estimator runs from its minimum budget up and never spends more than its budget; one less is refused."
    tsn, heads = models()
    model = tsn if kind == 'model' else heads
    priors = torch.full((5,), .2, dtype=torch.float64)
    for T in (4, 7):
        x = torch.randn(T, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(T))
        for method in METHODS:
            for budget in range(1, 70, 3):
                if (kind, method) == ('multiscale', 'surrogate') and budget < 2 * T: continue   # it also checks its pool
                r = None
                try: r = approximate_esvs(model, x, priors, budget=budget, method=method, seed=budget)
                except ValueError as e: assert 'needs a budget of at least' in str(e), e
                if r is None: continue
                assert r.n_evaluations <= budget, (T, method, budget, r.n_evaluations, r.estimator)
                assert r.estimator[0] == kind and r.estimator in ESTIMATORS, r.estimator


def test_one_frame_and_exact_estimators():
    "A one-frame video needs no estimator, and a default budget that pays for the exact ESVs gets them, exactly."
    tsn, heads = models()
    priors = torch.full((5,), .2, dtype=torch.float64)
    x = torch.randn(5, 8, dtype=torch.float64)
    one = approximate_esvs(tsn, x[:1], priors, budget=1, method='permutation')
    assert one.estimator == ('model', 'one frame') and one.n_evaluations == 1
    assert torch.allclose(one.values[0], tsn(x[:1][None])[0].softmax(-1) - priors, atol=1e-12)
    exact = approximate_esvs(heads, x, priors, budget=5 + 10 + 10)
    assert exact.estimator == ('multiscale', 'exact') and not exact.stderr.any()
    assert torch.allclose(exact.values, multiscale_esvs(heads, x, priors).values, atol=1e-12)


def test_general_heads_in_another_dtype():
    "Float32 heads that are not TRNs work with float64 features for every method (the games use the converted copies)."
    class Pool(nn.Module):
        def __init__(self, k): super().__init__(); self.n_frames, self.lin = k, nn.Linear(8, 5)
        def forward(self, x): return self.lin(x).mean(1) * x.shape[1]
    heads = [Pool(k) for k in (1, 2, 3)]
    x, priors = torch.randn(6, 8, dtype=torch.float64), torch.full((5,), .2, dtype=torch.float64)
    for method in METHODS:
        r = approximate_esvs(heads, x, priors, budget=40, method=method)
        assert torch.isfinite(r.values).all(), method


def test_multiscale_kernelshap_at_its_minimum_on_three_frames():
    "3 frames at the minimum budget: whatever the pooled scales leave, the estimate is finite and adds up."
    _, heads = models()
    x, priors = torch.randn(3, 8, dtype=torch.float64), torch.full((5,), .2, dtype=torch.float64)
    r = approximate_esvs(heads, x, priors, budget=7, method='kernelshap')
    assert torch.isfinite(r.values).all() and r.n_evaluations <= 7
    assert torch.allclose(r.values.sum(0), r.scores - priors, atol=1e-10)


def test_multiscale_permutation_within_a_budget_of_two():
    "2 frames, budget 2: the value of all frames alone costs 3 head evaluations, so the budget is refused, not overspent."
    _, heads = models()
    x = torch.randn(2, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match='at least 3 head evaluations'):
        approximate_esvs(heads, x, torch.full((5,), .2, dtype=torch.float64), budget=2, method='permutation')
    r = approximate_esvs(heads, x, torch.full((5,), .2, dtype=torch.float64), budget=3, method='permutation')
    assert r.n_evaluations <= 3, r.n_evaluations


def test_anytime_permutations_with_few_pairs():
    "Anytime mode with fewer permutation pairs than rounds: every round has an estimate."
    _, heads = models()
    x = torch.randn(12, 8, dtype=torch.float64)
    r = approximate_esvs(heads, x, torch.full((5,), .2, dtype=torch.float64), budget=300, method='permutation', tol=.05)
    assert torch.isfinite(r.values).all()


def test_original_mlp_heads_take_the_surrogate_path():
    "The original's heads (an MLP `model` over the flattened frames) are recognised: same estimator and ESVs as TRNs."
    _, heads = models(m=3)
    class Original(nn.Module):
        def __init__(self, trn):
            super().__init__()
            self.model = nn.Sequential(nn.Dropout(.5), trn.model[1], nn.ReLU(), trn.model[3])
        def forward(self, x): return self.model(x.flatten(1))
    originals = [Original(h).eval() for h in heads]
    x, priors = torch.randn(10, 8, dtype=torch.float64), torch.full((5,), .2, dtype=torch.float64)
    a = approximate_esvs(originals, x, priors, budget=120, seed=2)
    b = approximate_esvs(heads, x, priors, budget=120, seed=2)
    assert a.estimator == ('multiscale', 'surrogate'), a.estimator
    assert torch.allclose(a.values, b.values, atol=1e-10)


def test_unbiased_default_on_a_black_box_model():
    "The default on a model that is not late fusion (a GRU): the mean over seeds is within its standard error of the exact ESVs."
    from play_fair.esv import GRUHead
    torch.manual_seed(3)
    gru = GRUHead(8, 12, 5).double().eval()
    x, priors = torch.randn(7, 8, dtype=torch.float64), torch.full((5,), .2, dtype=torch.float64)
    exact = exact_esvs(gru, x, priors).values
    runs = [approximate_esvs(gru, x, priors, budget=100, seed=s) for s in range(150)]   # ~40 pairs in 3 strata
    values, errors = torch.stack([r.values for r in runs]), torch.stack([r.stderr for r in runs])
    assert ((values.mean(0) - exact).abs() <= 4.5 * values.std(0) / 150**.5 + 1e-12).all(), 'unbiased'
    coverage = float(((values - exact).abs() <= 1.96 * errors).double().mean())
    assert .85 <= coverage <= .99, coverage


def test_heads_known_only_by_outputs_beat_the_constructive_sampler():
    "GELU heads (no surrogate can read them): the fitted surrogate beats the original's sampler at the same budget, with honest errors."
    from play_fair.accuracy import GeluMLP
    _, heads = models(D=8, H=16, C=5, m=4)
    gelu = nn.ModuleList(GeluMLP(h) for h in heads).double().eval()
    x = torch.randn(10, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    priors = torch.full((5,), .2, dtype=torch.float64)
    exact = multiscale_esvs(list(gelu), x, priors).values
    ours = [approximate_esvs(gelu, x, priors, budget=200, seed=s) for s in range(6)]     # exact ESVs cost 385
    theirs = [rel(approximate_esvs(gelu, x, priors, budget=200, seed=s, method="constructive").values, exact) for s in range(6)]
    assert all(r.estimator == ('multiscale', 'surrogate') and r.n_evaluations <= 200 for r in ours)
    errors = sorted(rel(r.values, exact) for r in ours)
    assert errors[3] < sorted(theirs)[3] / 3, (errors, theirs)
    coverage = float(torch.stack([((r.values - exact).abs() <= 1.96 * r.stderr).double().mean() for r in ours]).mean())
    assert coverage > .8, coverage


@pytest.mark.parametrize('features', ['normal', 'skewed'])
def test_multiscale_surrogate_with_every_head_subset_leaves_only_second_order(features):
    "Every head subset evaluated: the lattice correction leaves only second-order terms, with no sampling error left."
    from math import comb
    from play_fair.surrogates import multiscale_surrogate_rounds
    _, heads = models(D=8, H=12, C=5, m=4)
    x = torch.randn(9, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    if features == 'skewed': x = (2 * x).exp()                  # heavy-tailed pre-activations: a poorer polynomial fit
    priors = torch.full((5,), .2, dtype=torch.float64)
    exact = multiscale_esvs(heads, x, priors).values
    game = MultiscaleGame(heads, x, priors, pool_budget=9)
    budget = game.n_evaluations + 3 * max(comb(9, s) for s in range(2, 5))   # every s-subset of the three corrected scales
    phi, se, _ = list(multiscale_surrogate_rounds(game, budget, torch.Generator().manual_seed(0)))[-1]
    assert rel(phi, exact) < (1e-6 if features == 'normal' else 1e-3), rel(phi, exact)
    assert float(se.max()) < 1e-12, "no subset is left unevaluated, so no sampling error"
