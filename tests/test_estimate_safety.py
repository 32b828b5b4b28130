"""Calibration safety: bounds that hold for every distance, failures with a reason, weight problems,
and calibration totals from the survey's own frame (issue 19, item 1). Pure NumPy/pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.methods.estimate import calibrate, calibrate_weights, model_matrix
from workbench.methods.estimate.calibration import CalibrationError, resolve_distance, weight_problems
from workbench.methods.estimate.survey import population_totals, sampling_frame


def test_linear_calibration_with_bounds_is_r_surveys_bounded_linear(dclus1, apiclus1):
    # R survey tests/caleg.Rout.save: calibrate(dclus1, ~enroll, c(6194, 3811472), bounds = c(0.6, 1.5))
    # (calfun linear) prints the g range 0.7198751 1.5000000. Tolerance: half a unit in the 7th decimal.
    # Before, "linear" ignored its bounds and gave the unbounded range up to 1.789.
    X = model_matrix(apiclus1, numeric=["enroll"]).to_numpy()
    _, res = calibrate(dclus1, X, np.array([6194, 3811472.0]), "linear", (0.6, 1.5))
    assert (res.g.min(), res.g.max()) == pytest.approx((0.7198751, 1.5), abs=5e-8)
    assert res.distance == "truncated" and not res.problems()


def test_raking_with_bounds_keeps_every_g_weight_within_them(dclus1, apiclus1):
    X = model_matrix(apiclus1, numeric=["enroll"]).to_numpy()
    T = np.array([6194, 3811472.0])
    _, free = calibrate(dclus1, X, T, "raking")
    assert free.g.max() > 1.5  # the bounds below bind
    _, res = calibrate(dclus1, X, T, "raking", (0.6, 1.5))
    assert res.g.min() >= 0.6 - 1e-12 and res.g.max() <= 1.5 + 1e-12
    np.testing.assert_allclose(X.T @ res.weights, T, rtol=1e-8)  # and the totals are still met
    assert resolve_distance("raking", (0.6, 1.5)) == "raking_truncated"


def test_raking_that_cannot_meet_its_totals_says_why_instead_of_a_lapack_error(dclus1, apiclus1):
    # A negative total of a positive variable: raking's multipliers run to infinity. Before, the
    # overflowed exp reached LAPACK and the user read "SVD did not converge in Linear Least Squares".
    X = model_matrix(apiclus1, numeric=["enroll"]).to_numpy()
    with pytest.raises(CalibrationError) as err:
        calibrate_weights(X, dclus1.weights, np.array([6194, -1000.0]), "raking")
    assert err.value.reason in ("diverged", "not_converged")
    assert "SVD" not in str(err.value)


def test_logit_non_convergence_names_the_reason_and_the_totals(dclus1, apiclus1):
    X = model_matrix(apiclus1, numeric=["enroll"]).to_numpy()
    with pytest.raises(CalibrationError) as err:  # g within (0.9, 1.1) cannot reach 1.5 x the enrolment
        calibrate_weights(X, dclus1.weights, np.array([6194, 3811472.0 * 1.5]), "logit", (0.9, 1.1),
                          names=["(Intercept)", "enroll"])
    assert err.value.reason == "not_converged" and "enroll" in err.value.constraints


def test_a_total_no_sampled_unit_carries_is_refused_with_its_name():
    X = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    with pytest.raises(CalibrationError) as err:
        calibrate_weights(X, np.ones(3), np.array([5.0, 2.0]), "linear", names=["(Intercept)", "stratumB"])
    assert err.value.reason == "empty_constraint" and err.value.constraints == ("stratumB",)


def test_unbounded_linear_weights_that_go_negative_are_reported_as_a_problem():
    # one large unit and a total the others can only meet with a negative weight
    X = np.column_stack([np.ones(4), [1.0, 2.0, 3.0, 100.0]])
    res = calibrate_weights(X, np.full(4, 10.0), np.array([40.0, 60.0]), "linear")
    codes = [p.code for p in res.problems()]
    assert (res.weights < 0).any() and codes == ["negative_weights"]
    assert res.diagnostics(np.full(4, 10.0))["negative_weights"].iloc[0] == (res.weights < 0).sum()
    # bounded linear either meets the totals within the bounds or says it cannot
    with pytest.raises(CalibrationError):
        calibrate_weights(X, np.full(4, 10.0), np.array([40.0, 60.0]), "linear", (0.3, 3.0))
    assert [p.code for p in weight_problems(np.ones(3), np.array([0.2, 1.0, 1.0]), (0.3, 3.0), True)] == \
        ["outside_bounds"]


def test_calibration_totals_come_from_the_sampling_frame_not_the_whole_register():
    # The sample is drawn from non-individual enterprises alive on 1 January: an individual business
    # and a firm born in March are in the month's register but not in the population the sample represents.
    reg = pd.DataFrame({
        "credit_code": list("abcde"), "industry_section": "C", "size_class": "小型",
        "legal_form": ["有限责任公司", "有限责任公司", "个体工商户", "有限责任公司", "股份有限公司"],
        "birth_date": pd.to_datetime(["2010-01-01", "2015-06-01", "2012-01-01", "2026-03-01", "2025-12-31"]),
        "death_date": pd.NaT, "vat_sales": [100.0, 200.0, 50.0, 400.0, 300.0], "si_headcount": [1, 2, 3, 4, 5]})
    frame = sampling_frame(reg, 2026)
    assert list(frame["credit_code"]) == ["a", "b", "e"]
    totals, cats = population_totals(reg, ["C-小型"], ["vat_sales", "si_headcount"], True, year=2026)
    assert totals["(Intercept)"] == 3 and totals["vat_sales"] == 600.0 and totals["si_headcount"] == 8


def test_intervals_are_student_t_on_the_domains_units_and_recorded_runs_keep_theirs():
    """Domains of 2-4 units under-covered with the normal quantile (issue 19, item 1): the default is
    t with n - 1 degrees of freedom; a run recorded before the setting existed keeps the normal one."""
    from scipy import stats

    from workbench.methods.estimate.survey import settings

    assert settings({"variable": "revenue"})["interval"] == "t"
    assert settings({"period": "2026-08", "variable": "revenue"})["interval"] == "normal"  # recorded earlier
    assert settings({"period": "2026-08", "interval": "t"})["interval"] == "t"
    # the multipliers this gives (scipy's t quantile; 12.706 and 1.960 are the textbook values)
    assert stats.t.ppf(0.975, 1) == pytest.approx(12.7062, abs=1e-4)
    assert stats.t.ppf(0.975, 10_000) == pytest.approx(1.9602, abs=1e-4)
