"""Sweep statistics: hand-computed means, sample spreads, t intervals and
paired differences, and the t quantile against SciPy's."""

import math

import pytest

from training.common import statistics
from training.common.statistics import paired_difference
from training.common.statistics import summarize

# t_{0.975, df} from printed tables (e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2).
T975 = {1: 12.706204736, 2: 4.302652730, 4: 2.776445105}


def test_one_value_has_no_spread_and_no_interval():
    assert summarize([0.4]) == {"n": 1, "mean": 0.4, "std": 0.0,
                                "ci_half_width": None, "ci_low": None, "ci_high": None}


def test_two_values():
    summary = summarize([1.0, 3.0])
    assert summary["n"] == 2 and summary["mean"] == 2.0
    assert summary["std"] == pytest.approx(math.sqrt(2.0))  # sqrt((1 + 1) / 1)
    # half-width = t_{0.975,1} * sqrt(2) / sqrt(2) = t_{0.975,1}
    assert summary["ci_half_width"] == pytest.approx(T975[1], abs=1e-8)
    assert summary["ci_low"] == pytest.approx(2.0 - 12.706204736, abs=1e-8)
    assert summary["ci_high"] == pytest.approx(2.0 + 12.706204736, abs=1e-8)


def test_three_values():
    summary = summarize([1.0, 2.0, 3.0])
    assert (summary["mean"], summary["std"]) == (2.0, 1.0)  # sqrt((1 + 0 + 1) / 2)
    assert summary["ci_half_width"] == pytest.approx(T975[2] / math.sqrt(3), abs=1e-8)
    assert summary["ci_half_width"] == pytest.approx(2.484138, abs=1e-6)


def test_five_values():
    summary = summarize([1.0, 2.0, 3.0, 4.0, 5.0])
    assert summary["mean"] == 3.0
    assert summary["std"] == pytest.approx(math.sqrt(10.0 / 4.0))  # squares 4+1+0+1+4
    # t_{0.975,4} * sqrt(2.5) / sqrt(5) = 2.776445 / sqrt(2)
    assert summary["ci_half_width"] == pytest.approx(1.963243, abs=1e-6)
    assert (summary["ci_low"], summary["ci_high"]) == pytest.approx((1.036757, 4.963243),
                                                                    abs=1e-6)


def test_other_confidence_levels_use_their_quantile():
    summary = summarize([1.0, 2.0, 3.0], confidence=0.90)
    assert summary["ci_half_width"] == pytest.approx(2.919986 / math.sqrt(3), abs=1e-6)


def test_paired_difference_is_the_interval_of_the_per_seed_differences():
    resolution = [0.50, 0.55, 0.45]
    baseline = [0.40, 0.50, 0.45]
    result = paired_difference(resolution, baseline)
    assert result["differences"] == pytest.approx([0.10, 0.05, 0.0])
    assert result["n"] == 3 and result["mean"] == pytest.approx(0.05)
    assert result["std"] == pytest.approx(0.05)
    assert result["ci_half_width"] == pytest.approx(T975[2] * 0.05 / math.sqrt(3), abs=1e-9)


def test_pairing_removes_the_noise_the_seed_shares():
    # Each seed moves both models by the same amount: the separate intervals
    # overlap widely, the paired one excludes zero.
    baseline = [0.30, 0.45, 0.60]
    resolution = [0.32, 0.475, 0.615]
    separate = summarize(resolution), summarize(baseline)
    assert separate[0]["ci_low"] < separate[1]["ci_high"]
    paired = paired_difference(resolution, baseline)
    assert paired["mean"] == pytest.approx(0.02)
    assert paired["ci_low"] > 0


def test_one_pair_has_a_difference_but_no_interval():
    result = paired_difference([0.5], [0.25])
    assert result["mean"] == 0.25 and result["ci_low"] is None and result["std"] == 0.0


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="no values"):
        summarize([])
    with pytest.raises(ValueError, match="equal lengths"):
        paired_difference([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="confidence"):
        summarize([1.0, 2.0], confidence=95)
    with pytest.raises(ValueError, match="probability"):
        statistics.t_quantile(1.0, 3)


def test_cell_text_shows_the_interval_when_there_is_one():
    assert statistics.format_estimate(summarize([0.4, 0.6]), scale=100) == "50.0 [-77.1, 177.1]"
    assert statistics.format_estimate(paired_difference([0.5], [0.25]), 100, "+.1f") == "+25.0"
    assert statistics.format_estimate(None) == "-"
    assert statistics.format_interval(summarize([2800.0, 2900.0]), spec=",.0f") == "[2,215, 3,485]"
    assert statistics.format_interval(summarize([0.5])) == "-"


def test_estimates_go_to_flat_row_columns_and_back():
    row = statistics.estimate_columns("acc", summarize([1.0, 2.0, 3.0]))
    assert sorted(row) == ["acc_ci_high", "acc_ci_low", "acc_mean", "acc_std"]
    back = statistics.estimate_from_columns(row, "acc")
    assert back["mean"] == 2.0 and back["ci_low"] == row["acc_ci_low"]
    assert statistics.estimate_from_columns(row, "other") is None


def test_t_quantile_and_intervals_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in list(range(1, 41)) + [0.5, 2.5, 60, 120, 1000, 100_000]:
        for probability in (1e-4, 0.01, 0.025, 0.05, 0.2, 0.5, 0.8, 0.9, 0.95, 0.975, 0.99,
                            0.995, 0.9999):
            assert statistics.t_quantile(probability, df) == pytest.approx(
                stats.t.ppf(probability, df), rel=1e-6, abs=1e-6), (df, probability)
    for t in (-30.0, -2.0, 0.3, 1.96, 12.7):
        assert statistics.t_cdf(t, 3) == pytest.approx(stats.t.cdf(t, 3), abs=1e-12)
    values = [0.31, 0.42, 0.29, 0.37, 0.40, 0.35]
    summary = summarize(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=summary["mean"],
                                 scale=stats.sem(values))
    assert (summary["ci_low"], summary["ci_high"]) == pytest.approx((low, high), abs=1e-10)
    assert summary["std"] == pytest.approx(stats.tstd(values))
