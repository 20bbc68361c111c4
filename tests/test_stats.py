"""Report statistics: bootstrap CIs that respect the data, IQM, probability of improvement,
Welch + Holm."""

import math

import numpy as np
from scipy import stats as sps

from dynaworld.studies.stats import (
    cell,
    holm,
    interval,
    probability_of_improvement,
    welch_p,
)


def test_a_bootstrap_ci_never_leaves_the_range_the_returns_can_take():
    cartpole = [500.0, 500.0, 500.0, 470.0, 210.0, 500.0, 480.0, 500.0]  # max return 500
    iv = interval(cartpole)
    assert iv.kind == "bootstrap" and 210.0 <= iv.lo < iv.point < iv.hi <= 500.0


def test_below_eight_runs_the_mean_gets_a_t_interval_and_the_iqm_none():
    runs = [500.0, 500.0, 500.0, 470.0, 210.0]
    iv = interval(runs)
    half = sps.t.ppf(0.975, 4) * np.std(runs, ddof=1) / math.sqrt(5)
    assert iv.kind == "t" and np.isclose(iv.lo, np.mean(runs) - half)
    assert np.isclose(iv.hi, np.mean(runs) + half)
    boot = np.quantile([np.mean(np.random.default_rng(s).choice(runs, 5)) for s in range(2000)],
                       [0.025, 0.975])  # fmt: skip
    assert iv.hi - iv.lo > boot[1] - boot[0]  # the bootstrap of 5 values is the narrower
    assert cell(runs).startswith("436.00 t[") and "no CI below 8 runs" in cell(runs, "IQM")
    pooled = interval([[1.0, 2.0, 3.0], [10.0, 11.0, 12.0, 13.0]])  # stratified: t with df 2
    assert pooled.kind == "t" and pooled.lo < pooled.point < pooled.hi


def test_one_seed_is_shown_as_n_1_without_an_interval():
    assert cell([0.6]) == "0.60 (n=1)"
    assert cell([]) == "–"
    assert cell([1.0, 2.0, 3.0]).endswith("(n=3)") and "[" in cell([1.0, 2.0, 3.0])


def test_iqm_is_robust_to_one_outlying_seed_and_bootstrap_is_stratified_by_game():
    runs = [1.0, 2.0, 3.0, 4.0, 1000.0]
    assert interval(runs).point > 200 and interval(runs, "IQM").point < 4
    # two games: each resample keeps each game's 3 seeds, so the pooled mean stays between
    two = interval([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    assert two.point == two.lo == two.hi == 0.5


def test_probability_of_improvement_counts_wins_and_half_ties():
    assert probability_of_improvement([5.0, 6.0], [1.0, 2.0]).point == 1.0
    assert probability_of_improvement([1.0, 1.0], [1.0, 1.0]).point == 0.5
    assert probability_of_improvement([[3.0, 1.0], [0.0]], [[2.0, 2.0], [1.0]]).point == 0.25


def test_below_eight_runs_a_game_probability_of_improvement_has_no_interval():
    few = probability_of_improvement([5.0, 6.0, 7.0], [1.0, 2.0, 8.0])
    assert few.kind == "none" and "no CI below 8 runs" in str(few)
    many = probability_of_improvement(list(range(8)), [x + 0.5 for x in range(8)])
    assert many.kind == "bootstrap" and many.lo < many.point < many.hi


def test_welch_and_holm():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 10), rng.normal(3, 1, 10)
    assert welch_p(a, b) < 1e-4 and welch_p(a, a) == 1.0 and math.isnan(welch_p([1.0], b))
    # Holm step-down: sorted p × (m, m-1, ...), made monotone, capped at 1; nan is not a test
    assert np.allclose(holm([0.01, 0.04, 0.03, math.nan]), [0.03, 0.06, 0.06, math.nan],
                       equal_nan=True)  # fmt: skip
    assert holm([0.5, 0.9]) == [1.0, 1.0]


def test_comparisons_are_declared_in_the_experiment_file_and_checked_before_any_run():
    import pytest

    from dynaworld.errors import ConfigError
    from dynaworld.studies import Experiment

    exp = Experiment.load("planning_shape")
    assert ("rollout_10x10", "dyna_100x1") in exp.comparisons
    data = {**exp.data, "comparisons": [["rollout_10x10", "dyna_100"]]}
    with pytest.raises(ConfigError, match="unknown method 'dyna_100'.*dyna_100x1"):
        Experiment.from_data(data, "x.yaml")
