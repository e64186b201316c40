"Exact frame-pair interactions against the definition, and the properties users rely on: symmetry, null players, additive and pairwise games, efficiency."
import pytest
import torch

from play_fair.esv import GRUHead, brute_force_esvs, characteristic_fn, table_game
from play_fair.interactions import (INDICES, brute_force_interactions, frame_terms, interactions_from_game,
                                    shapley_interactions)
from play_fair.models import TRN, FeatureTSN, MultiscaleTRN
from play_fair.multiscale import exact_model_esvs

D, H, C = 5, 7, 3


def random_model(kind, seed, n_heads=3):
    torch.manual_seed(seed)
    make = {'tsn': lambda: FeatureTSN(D, C, dropout=0.), 'gru': lambda: GRUHead(D, H, C),
            'mtrn': lambda: MultiscaleTRN([TRN(k, D, H, C, dropout=0.) for k in range(1, n_heads + 1)]),
            'trn-norm': lambda: MultiscaleTRN([TRN(k, D, H, C, dropout=0., batch_norm=True) for k in range(1, n_heads + 1)])}
    return make[kind]().double().eval()


def random_inputs(seed, n_frames, n_videos=None):
    g = torch.Generator().manual_seed(seed)
    shape = (n_frames, D) if n_videos is None else (n_videos, n_frames, D)
    return torch.randn(*shape, dtype=torch.float64, generator=g), torch.rand(C, dtype=torch.float64, generator=g).softmax(0)


def whole(T): return torch.ones(1, T, dtype=torch.bool)
def empty(T): return torch.zeros(1, T, dtype=torch.bool)


@pytest.mark.parametrize('kind', ['tsn', 'gru', 'mtrn'])
@pytest.mark.parametrize('T', range(1, 9))
def test_models_equal_the_definition(kind, T):
    "Every pair, every class, every index: the engine equals the brute-force definition to 1e-9 in float64."
    model = random_model(kind, T)
    x, priors = random_inputs(T, T)
    game = characteristic_fn(model, x, priors)
    esvs = brute_force_esvs(game, T)
    for index in INDICES:
        r = shapley_interactions(model, x, priors, index=index, device='cpu')
        pairs = brute_force_interactions(game, T, index=index)
        assert (r.interactions - pairs).abs().max() < 1e-9, (kind, T, index)
        assert (r.values - esvs).abs().max() < 1e-9
        singles = game(torch.eye(T, dtype=torch.bool)) - priors
        assert (r.frame_terms - frame_terms(esvs, pairs, singles, index)).abs().max() < 1e-9


@pytest.mark.parametrize('n_heads', [2, 8])
def test_multiscale_heads_and_batches(n_heads):
    "The multiscale engine (heads given as a list, fewer or more heads than frames) on a batch equals the definition video by video."
    mtrn = random_model('mtrn', n_heads, n_heads)
    x, priors = random_inputs(1, 6, n_videos=3)
    r = shapley_interactions(list(mtrn.heads), x, priors, index='k-SII', device='cpu', chunk_size=4)
    assert r.interactions.shape == (3, 6, 6, C) and r.values.shape == (3, 6, C) and r.scores.shape == (3, C)
    for b in range(3):
        pairs = brute_force_interactions(characteristic_fn(mtrn, x[b], priors), 6)
        assert (r.interactions[b] - pairs).abs().max() < 1e-9
    assert (r.values - exact_model_esvs(mtrn, x, priors, device='cpu').values).abs().max() < 1e-9


def test_trn_with_batch_norm_takes_the_same_route():
    "TRN heads with batch norm (folded into the first layer) give the definition's interactions too."
    model = random_model('trn-norm', 3)
    for h in model.heads: h.norm.running_mean.normal_(); h.norm.running_var.uniform_(0.5, 2)
    x, priors = random_inputs(2, 5)
    r = shapley_interactions(model, x, priors, device='cpu')
    assert (r.interactions - brute_force_interactions(characteristic_fn(model, x, priors), 5)).abs().max() < 1e-9


@pytest.mark.parametrize('T', range(1, 9))
def test_table_games_equal_the_definition(T):
    g = torch.Generator().manual_seed(T)
    table = torch.randn(2**T, 2, 3, dtype=torch.float64, generator=g)
    for index in INDICES:
        r = interactions_from_game(table_game(table), T, index=index, chunk_size=7)
        assert r.interactions.shape == (T, T, 2, 3)
        assert (r.interactions - brute_force_interactions(table_game(table), T, index=index)).abs().max() < 1e-9


@pytest.mark.parametrize('T', [2, 5, 8])
def test_symmetric_with_zero_diagonal(T):
    x, priors = random_inputs(T, T, n_videos=2)
    r = shapley_interactions(random_model('gru', T), x, priors, device='cpu')
    assert torch.equal(r.interactions, r.interactions.transpose(1, 2))
    assert not r.interactions.diagonal(0, 1, 2).any()


@pytest.mark.parametrize('T', [3, 6, 8])
def test_null_player_has_no_interactions(T):
    "A frame that never changes the value interacts with no other frame."
    g = torch.Generator().manual_seed(T)
    table = torch.randn(2**T, C, dtype=torch.float64, generator=g)
    null = T // 2
    without = (torch.arange(2**T) & ~(1 << null))
    table = table[without]                           # v(S ∪ null) = v(S)
    for index in INDICES:
        r = interactions_from_game(table_game(table), T, index=index)
        assert r.interactions[null].abs().max() < 1e-12 and r.interactions[:, null].abs().max() < 1e-12
        assert r.values[null].abs().max() < 1e-12


@pytest.mark.parametrize('T', [2, 4, 7])
def test_additive_game_has_no_interactions(T):
    g = torch.Generator().manual_seed(T)
    weights, base = torch.randn(T, C, dtype=torch.float64, generator=g), torch.randn(C, dtype=torch.float64, generator=g)
    game = lambda z: base + z.double() @ weights
    for index in INDICES:
        r = interactions_from_game(game, T, index=index)
        assert r.interactions.abs().max() < 1e-12
        assert (r.values - weights).abs().max() < 1e-12
        if index != 'SII': assert (r.frame_terms - weights).abs().max() < 1e-12


@pytest.mark.parametrize('T', [2, 5, 8])
def test_one_pairwise_term_is_returned_exactly(T):
    "A game with a single pairwise term c·[i, j ∈ S] (plus an additive part) has interaction c on that pair, 0 elsewhere."
    g = torch.Generator().manual_seed(T)
    weights, c = torch.randn(T, C, dtype=torch.float64, generator=g), torch.randn(C, dtype=torch.float64, generator=g)
    i, j = 0, T - 1
    game = lambda z: z.double() @ weights + c * (z[:, i] & z[:, j]).double()[:, None]
    for index in INDICES:
        r = interactions_from_game(game, T, index=index)
        expected = torch.zeros(T, T, C, dtype=torch.float64)
        expected[i, j] = expected[j, i] = c
        assert (r.interactions - expected).abs().max() < 1e-12, index
        assert (r.values - (weights + c * torch.isin(torch.arange(T), torch.tensor([i, j]))[:, None] / 2)).abs().max() < 1e-12


@pytest.mark.parametrize('kind', ['tsn', 'gru', 'mtrn'])
@pytest.mark.parametrize('index', ['k-SII', 'STII'])
def test_efficient_indices_add_up_to_the_score(kind, index):
    "Frame terms plus pair terms i < j sum to v(all) − v(∅) for every class, exactly."
    x, priors = random_inputs(3, 7, n_videos=2)
    r = shapley_interactions(random_model(kind, 4), x, priors, index=index, device='cpu')
    total = r.frame_terms.sum(1) + r.interactions.sum((1, 2)) / 2      # each pair i < j once
    assert (total - (r.scores - priors)).abs().max() < 1e-10


def test_sii_frame_terms_are_the_esvs_and_float32_agrees():
    x, priors = random_inputs(5, 6)
    model = random_model('mtrn', 5)
    r64 = shapley_interactions(model, x, priors, device='cpu')
    assert torch.equal(r64.frame_terms, r64.values)
    r32 = shapley_interactions(model.float(), x.float(), priors.float(), device='cpu')
    assert r32.interactions.dtype == torch.float32
    assert (r32.interactions.double() - r64.interactions).abs().max() < 1e-5


def test_long_walks_move_their_sums_to_float64():
    "17 frames: more coalitions than one float32 sum may take, so the sums move to float64 during the walk and after it."
    x, priors = random_inputs(6, 17)
    model = random_model('mtrn', 6)
    r64 = shapley_interactions(model, x, priors, index='k-SII', device='cpu')
    assert (r64.values - exact_model_esvs(model, x, priors, device='cpu').values).abs().max() < 1e-12
    assert (r64.frame_terms.sum(0) + r64.interactions.sum((0, 1)) / 2 - (r64.scores - priors)).abs().max() < 1e-10
    r32 = shapley_interactions(model.float(), x.float(), priors.float(), index='k-SII', device='cpu')
    assert (r32.interactions.double() - r64.interactions).abs().max() < 1e-5
    assert (r32.values.double() - r64.values).abs().max() < 1e-5


from play_fair.interactions import approximate_interactions


@pytest.mark.parametrize('kind', ['gru', 'tsn'])
@pytest.mark.parametrize('T', [8, 10])
def test_approximate_against_exact(kind, T):
    "Sampled pair terms are within their standard errors of the exact ones about as often as a 95% interval should be."
    model = random_model(kind, T)
    x, priors = random_inputs(T, T, n_videos=3)
    exact = shapley_interactions(model, x, priors, index='k-SII', device='cpu')
    approx = approximate_interactions(model, x, priors, budget=2**T // 3, index='k-SII', seed=1, device='cpu')
    iu = torch.triu_indices(T, T, 1)
    z = ((approx.interactions - exact.interactions) / approx.interaction_stderr)[:, iu[0], iu[1]]
    assert (z.abs() < 1.96).double().mean() > 0.85, float((z.abs() < 1.96).double().mean())
    zf = (approx.frame_terms - exact.frame_terms) / approx.frame_stderr
    assert (zf.abs() < 1.96).double().mean() > 0.85
    assert (approx.values - exact.values).abs().max() < 6 * approx.stderr.max()


def test_approximate_goes_exact_with_the_whole_lattice():
    model = random_model('gru', 0)
    x, priors = random_inputs(0, 7)
    exact = shapley_interactions(model, x, priors, index='STII', device='cpu')
    approx = approximate_interactions(model, x, priors, budget=2**7, index='STII', device='cpu')
    assert (approx.interactions - exact.interactions).abs().max() < 1e-12 and not approx.interaction_stderr.any()


@pytest.mark.parametrize('pairs', ['adjacent', 'all'])
def test_approximate_long_videos(pairs):
    "32 frames, a TSN and a multiscale TRN: finite estimates and standard errors for the pairs asked for, NaN for the rest."
    x, priors = random_inputs(7, 32)
    for kind in ('tsn', 'mtrn'):
        r = approximate_interactions(random_model(kind, 7), x, priors, budget=3000, pairs=pairs, seed=0, device='cpu')
        asked = torch.triu_indices(32, 32, 1) if pairs == 'all' else torch.stack([torch.arange(31), torch.arange(1, 32)])
        assert torch.isfinite(r.interactions[asked[0], asked[1]]).all() and torch.isfinite(r.interaction_stderr[asked[0], asked[1]]).all()
        assert (r.interaction_stderr[asked[0], asked[1]] > 0).any()
        if pairs == 'adjacent': assert r.interactions[0, 5].isnan().all()
        assert r.n_evaluations <= 3000
