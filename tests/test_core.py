"""Generic contract core: slacks, feasibility, isotonic regression, minimal payments."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from contractjax import core


def test_ir_ic_by_hand():
    # type 0 gets 1 from its item and 3 from item 1: IC(0,1) violated by 2
    U = jnp.array([[1.0, 3.0], [-0.5, 2.0]])
    c = core.ir_ic(U)
    np.testing.assert_allclose(c.slack["IR"], [1.0, 2.0])
    np.testing.assert_allclose(c.slack["IC"], [[0.0, -2.0], [2.5, 0.0]])
    assert not bool(core.feasible(c))
    assert float(core.max_violation(c)) == 2.0


def test_tolerance_is_relative_to_scale():
    big = 1e4
    U = jnp.array([[0.0, -1.0], [big - 5e-3, big]])  # IR of type 0 exactly 0
    assert bool(core.feasible(core.ir_ic(U)))
    # IC slack -5e-3 with utilities of 1e4: scale 1e4 -> tolerance 1e-2 -> still feasible
    U2 = jnp.array([[0.0, -1.0], [big + 5e-3, big]])
    assert bool(core.feasible(core.ir_ic(U2)))
    # the same absolute violation at scale 1 is not
    U3 = jnp.array([[0.0, 5e-3], [0.0, 1.0]])
    assert not bool(core.feasible(core.ir_ic(U3)))
    assert abs(float(core.max_violation(core.ir_ic(U3))) - 5e-3) < 1e-8


def _pav(y, w):
    """Reference pool-adjacent-violators."""
    blocks = []
    for yi, wi in zip(y, w, strict=True):
        blocks.append([yi * wi, wi, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, ww, n = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += ww
            blocks[-1][2] += n
    out = []
    for s, ww, n in blocks:
        out += [s / ww] * n
    return np.array(out)


@settings(max_examples=200, deadline=None)
@given(
    y=hnp.arrays(np.float64, st.integers(1, 7), elements=st.floats(-100, 100)),
    data=st.data(),
)
def test_isotonic_matches_pav(y, data):
    w = data.draw(hnp.arrays(np.float64, y.shape, elements=st.floats(0.01, 10)))
    with jax.enable_x64(True):
        got = np.asarray(core.isotonic(jnp.asarray(y), jnp.asarray(w)))
    np.testing.assert_allclose(got, _pav(y, w), rtol=1e-9, atol=1e-9)
    assert np.all(np.diff(got) >= -1e-9)


@settings(max_examples=100, deadline=None)
@given(
    cost_rates=hnp.arrays(np.float64, st.integers(2, 6), elements=st.floats(0.1, 10), unique=True),
    efforts=st.data(),
)
def test_minimal_payments_single_crossing(cost_rates, efforts):
    """With cost[k, n] = w_k x_n (w decreasing in k) and x increasing, minimal payments are the
    binding local-downward chain, and the menu is feasible with IR_1 and local IC binding."""
    w = np.sort(cost_rates)[::-1]
    K = len(w)
    x = np.sort(efforts.draw(hnp.arrays(np.float64, K, elements=st.floats(0, 100))))
    with jax.enable_x64(True):
        cost = jnp.asarray(w[:, None] * x[None, :])
        R = np.asarray(core.minimal_payments(cost))
        chain = np.cumsum(w * np.diff(x, prepend=0.0))
        np.testing.assert_allclose(R, chain, rtol=1e-9, atol=1e-9)
        U = jnp.asarray(R[None, :] - w[:, None] * x[None, :])
        c = core.ir_ic(U)
        assert bool(core.feasible(c))
        assert abs(float(c.slack["IR"][0])) < 1e-9
        for k in range(1, K):
            assert abs(float(c.slack["IC"][k, k - 1])) < 1e-7


def _min_cycle(w: np.ndarray) -> float:
    """Smallest total weight over every simple cycle (brute force)."""
    import itertools

    K = len(w)
    best = np.inf
    for r in range(2, K + 1):
        for nodes in itertools.permutations(range(K), r):
            if nodes[0] == min(nodes):
                best = min(best, sum(w[nodes[i], nodes[(i + 1) % r]] for i in range(r)))
    return best


_negative_cycle = jax.jit(core.has_negative_cycle)
_step = jax.jit(core.implementable_step)
_bisected = jax.jit(lambda c0, c1: core._step_bisected(c0, c1, 40))


@settings(max_examples=100, deadline=None)
@given(w=hnp.arrays(np.float64, st.tuples(st.integers(2, 5), st.just(5)), elements=st.floats(-10, 10)))
def test_negative_cycle_check_matches_enumeration(w):
    K = w.shape[0]
    w = w[:, :K]
    cycle = _min_cycle(w)
    assume(abs(cycle) > 1e-9)  # a cycle of weight ±1e-313 is 0 to XLA, which flushes subnormals
    with jax.enable_x64(True):
        got = bool(_negative_cycle(jnp.asarray(w)))
    assert got == (cycle < 0)


@settings(max_examples=60, deadline=None)
@given(K=st.integers(2, 5), data=st.data())
def test_implementable_step_is_the_largest_implementable_step(K, data):
    """Linear costs ``u_k · x_n`` with 2-D types: from a monotone separable anchor toward an
    arbitrary proposal, the step keeps every cycle non-negative, and a slightly longer one does not
    (unless the whole proposal is implementable)."""
    u = data.draw(hnp.arrays(np.float64, (K, 2), elements=st.floats(0.1, 10)))
    # allocations of 1e-3 and more, or exactly 0: with costs of 1e-12 every cycle is within the
    # rounding tolerance, where the two paths legitimately differ (enumeration reads a cycle at
    # t = 1 against the tolerance, bisection at t, so t* = tolerance / |cycle| there)
    x1 = data.draw(hnp.arrays(np.float64, (K, 2), elements=st.one_of(st.just(0.0), st.floats(1e-3, 100))))
    x0 = np.zeros((K, 2))  # the zero allocation: implementable
    with jax.enable_x64(True):
        c0, c1 = jnp.asarray(u @ x0.T), jnp.asarray(u @ x1.T)
        t = float(_step(c0, c1))
        bisected = float(_bisected(c0, c1))  # the path taken above ENUMERATE_CYCLES_UP_TO
        assert abs(bisected - t) < 1e-6  # both within rounding (100 ε) of the binding cycle

    def cycle(s: float) -> float:
        c = u @ (x0 + s * (x1 - x0)).T
        return _min_cycle(c - np.diagonal(c)[:, None])

    assert 0.0 <= t <= 1.0
    assert cycle(t) >= -1e-9 * max(1.0, np.abs(u @ x1.T).max())
    if t < 1.0:
        assert cycle(min(1.0, t + 1e-6)) < 0


_rents = jax.jit(core.least_rents)
_rents_grad = jax.jit(jax.grad(lambda c, g: jnp.sum(g * core.least_rents(c))))
_autodiff_grad = jax.jit(jax.grad(lambda c, g: jnp.sum(g * core.minimal_payments(c))))


@settings(max_examples=60, deadline=None)
@given(K=st.integers(2, 5), P=st.integers(1, 3), data=st.data())
def test_least_rents_equal_minimal_payments_with_the_tree_derivative(K, P, data):
    """On implementable cost matrices (extra payments ``own_k − cost[k, n] = φ_k − φ_n − s_kn``
    with ``s > 0``, so every cycle is strictly negative) with one longest path to each type: the
    same rents, and the longest-path tree's derivative equals autodiff's through the
    Bellman–Ford rounds; ``P`` matrices along a trailing axis give each one's rents and
    derivative."""
    g = data.draw(hnp.arrays(np.float64, (K,), elements=st.floats(-1, 1)))
    costs = []
    for _ in range(P):
        own = data.draw(hnp.arrays(np.float64, (K,), elements=st.floats(0, 100)))
        phi = data.draw(hnp.arrays(np.float64, (K,), elements=st.floats(-50, 50)))
        slack = data.draw(hnp.arrays(np.float64, (K, K), elements=st.floats(0.01, 20), unique=True))
        c = own[:, None] - (phi[:, None] - phi[None, :] - slack)
        np.fill_diagonal(c, own)
        costs.append(c)
    with jax.enable_x64(True):
        stacked = jnp.asarray(np.stack(costs, axis=-1))  # [K, K, P]
        R = np.asarray(_rents(stacked))
        dR = np.asarray(_rents_grad(stacked, jnp.asarray(g)[:, None]))
        for p, c in enumerate(costs):
            paths = np.where(np.eye(K, dtype=bool), np.diagonal(c)[:, None], R[None, :, p] + np.diagonal(c)[:, None] - c)
            top2 = np.sort(paths, axis=1)[:, -2:]
            assume(np.all(top2[:, 1] - top2[:, 0] > 1e-6 * max(1.0, np.abs(c).max())))  # one longest path each
            np.testing.assert_array_equal(R[:, p], np.asarray(core.minimal_payments(jnp.asarray(c))))
            autodiff = np.asarray(_autodiff_grad(jnp.asarray(c), jnp.asarray(g)))
            np.testing.assert_allclose(dR[..., p], autodiff, rtol=1e-9, atol=1e-9)
