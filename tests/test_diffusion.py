"""Noise schedules (SPEC §4.1; reference values from ANCHORS)."""

import numpy as np
import pytest

from contractjax import diffusion


def test_vp_schedule_values():
    b = diffusion.betas("vp", 6)
    np.testing.assert_allclose(b, [0.1429, 0.3490, 0.5055, 0.6244, 0.7147, 0.7833], atol=1e-4)
    for T in (3, 5, 6, 12, 50):
        s = diffusion.schedule("vp", T)
        assert s.alpha_bars[-1] == pytest.approx(0.00641, abs=5e-5)  # = exp(−(β_min + β_max)/2) for any T


def test_linear_schedule_warns():
    with pytest.warns(UserWarning, match="alpha_bar_T"):
        s = diffusion.schedule("linear", 6)
    assert s.alpha_bars[-1] == pytest.approx(0.94, abs=5e-3)


def test_cosine_schedule_monotone_and_bounded():
    s = diffusion.schedule("cosine", 10)
    assert np.all(np.diff(s.alpha_bars) < 0) and s.betas.max() <= 0.999 and s.alpha_bars[-1] < 0.01
    assert s.sigmas[0] == 0.0 and np.all(s.sigmas[1:] > 0)


def test_unknown_schedule():
    with pytest.raises(ValueError, match="unknown"):
        diffusion.betas("quadratic", 5)
