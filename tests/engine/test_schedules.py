"""Every LR policy against its formula (x in percent of training)."""
import math

import pytest

from digitsx.engine.schedules import POLICIES, curve, learning_rate

LR = 0.01


@pytest.mark.parametrize("x", [0, 10, 32.9, 33, 50, 66, 99, 100])
def test_step(x):
    assert learning_rate("step", LR, x) == pytest.approx(LR * 0.1 ** math.floor(x / 33))


def test_multistep_counts_values_passed():
    assert learning_rate("multistep", LR, 49.9) == LR
    assert learning_rate("multistep", LR, 50) == pytest.approx(LR * 0.5)
    assert learning_rate("multistep", LR, 85) == pytest.approx(LR * 0.25)
    assert learning_rate("multistep", LR, 60, {"lr_multistep_values": "10,20,30",
                                              "lr_multistep_gamma": 0.1}) == pytest.approx(LR * 1e-3)


@pytest.mark.parametrize("x", [0, 1, 37.5, 100])
def test_exp_inv_poly_sigmoid(x):
    assert learning_rate("exp", LR, x) == pytest.approx(LR * 0.95 ** x)
    assert learning_rate("inv", LR, x) == pytest.approx(LR * (1 + 0.1 * x) ** -0.5)
    assert learning_rate("poly", LR, x) == pytest.approx(LR * (1 - x / 100) ** 3)
    assert learning_rate("sigmoid", LR, x) == pytest.approx(LR / (1 + math.exp(0.1 * (x - 50))))
    assert learning_rate("fixed", LR, x) == LR


def test_cosine_with_warmup():
    p = {"lr_warmup": 10}
    assert learning_rate("cosine", LR, 0, p) == 0
    assert learning_rate("cosine", LR, 5, p) == pytest.approx(LR / 2)
    assert learning_rate("cosine", LR, 10, p) == pytest.approx(LR)
    assert learning_rate("cosine", LR, 55, p) == pytest.approx(LR / 2)
    assert learning_rate("cosine", LR, 100, p) == pytest.approx(0, abs=1e-12)


def test_onecycle_rises_then_falls():
    c = curve("onecycle", LR, {"lr_warmup": 25})
    assert c[0] == pytest.approx(LR / 25)
    assert max(c) == pytest.approx(LR) and c.index(max(c)) == 25
    assert c[-1] == pytest.approx(LR / 25 / 1e4)
    assert all(a <= b for a, b in zip(c[:25], c[1:26]))


def test_curve_has_101_points_and_clamps():
    for policy in POLICIES:
        assert len(curve(policy, LR)) == 101
    assert learning_rate("poly", LR, 150) == learning_rate("poly", LR, 100)


def test_unknown_policy():
    with pytest.raises(ValueError, match="lr_policy must be one of"):
        learning_rate("warp", LR, 0)


def test_every_policy_is_finite_over_the_declared_bounds():
    """The form's bounds are the schedule's: at every corner of them, every policy gives a
    finite, non-negative rate over the whole run (a sigmoid gamma of 8 overflowed exp())."""
    import itertools
    import math

    from digitsx.engine.schedules import BOUNDS, DEFAULTS, POLICIES, curve

    numeric = [k for k in BOUNDS if k != "lr_multistep_values"]
    for key, corner in itertools.product(numeric, (0, 1)):
        params = {**DEFAULTS, key: BOUNDS[key][corner]}
        for policy in POLICIES:
            rates = curve(policy, 100.0, params)
            assert all(isinstance(r, float) and math.isfinite(r) and r >= 0 for r in rates), \
                (policy, key, BOUNDS[key][corner])
