"""Statistics of a sweep over seeds: mean, spread and confidence intervals.

Each run of a sweep is one draw of a noisy experiment (the seed sets the
weights, the data order and the augmentation). `summarize` gives the mean
of a model's runs with a two-sided Student-t confidence interval; when two
models were trained on the same seeds, `paired_difference` compares them
run by run, which removes the part of the noise the seed shares between
them (the data order, for instance) and is the sharper comparison.

The t quantile is computed here, without SciPy: the Student-t CDF is a
regularized incomplete beta function (evaluated by its continued fraction,
as in Numerical Recipes, section 6.4), inverted by bisection.
"""

import math

CONFIDENCE = 0.95


def _beta_continued_fraction(x, a, b, max_terms=10_000, tolerance=1e-15):
    """The continued fraction of I_x(a, b) (modified Lentz method); it
    converges quickly for x < (a + 1) / (a + b + 2)."""
    tiny = 1e-300

    def guarded(value):
        return tiny if abs(value) < tiny else value

    c = 1.0
    d = 1.0 / guarded(1.0 - (a + b) * x / (a + 1.0))
    fraction = d
    for m in range(1, max_terms + 1):
        # The even term, then the odd term, of the fraction.
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 / guarded(1.0 + numerator * d)
            c = guarded(1.0 + numerator / c)
            fraction *= d * c
        if abs(d * c - 1.0) < tolerance:
            return fraction
    raise ArithmeticError(f"incomplete beta: no convergence for x={x}, a={a}, b={b}")


def regularized_incomplete_beta(x, a, b):
    """I_x(a, b), the CDF at `x` of the Beta(a, b) distribution.

    Args:
        x: A number in [0, 1].
        a: First shape parameter, > 0.
        b: Second shape parameter, > 0.

    Returns:
        I_x(a, b) as a float.

    Example:

    >>> round(regularized_incomplete_beta(0.5, 2.0, 2.0), 12)
    0.5
    """
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(x, a, b) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(1.0 - x, b, a) / b


def t_cdf(t, df):
    """The CDF of Student's t distribution with `df` degrees of freedom.

    Example:

    >>> t_cdf(0.0, 3)
    0.5
    >>> round(t_cdf(1.0, 1), 12)  # Cauchy: 1/2 + arctan(1)/pi
    0.75
    """
    tail = 0.5 * regularized_incomplete_beta(df / (df + t * t), 0.5 * df, 0.5)
    return 1.0 - tail if t >= 0 else tail


def t_quantile(probability, df):
    """The `probability` quantile of Student's t with `df` degrees of freedom
    (the inverse of `t_cdf`, as `scipy.stats.t.ppf`), found by bisection to
    a relative precision of about 1e-13.

    Args:
        probability: A number in (0, 1).
        df: Degrees of freedom, > 0 (need not be an integer).

    Returns:
        t such that P(T <= t) = probability.

    Example:

    >>> round(t_quantile(0.975, 1), 4)  # 95% two-sided, one degree of freedom
    12.7062
    >>> round(t_quantile(0.975, 4), 4)
    2.7764
    """
    if not 0.0 < probability < 1.0:
        raise ValueError(f"probability must lie in (0, 1), got {probability}.")
    if not df > 0:
        raise ValueError(f"df must be > 0, got {df}.")
    if probability == 0.5:
        return 0.0
    if probability < 0.5:
        return -t_quantile(1.0 - probability, df)
    # Upper tail 1 - p, from the incomplete beta directly (no cancellation).
    tail = 1.0 - probability

    def upper_tail(t):
        return 0.5 * regularized_incomplete_beta(df / (df + t * t), 0.5 * df, 0.5)

    low, high = 0.0, 1.0
    while upper_tail(high) > tail:
        low, high = high, 2.0 * high
    while high - low > 1e-14 * high:
        middle = 0.5 * (low + high)
        if upper_tail(middle) > tail:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def summarize(values, confidence=CONFIDENCE):
    """Mean, sample standard deviation and confidence interval of the mean.

    The interval is the two-sided Student-t interval
    `mean +- t_{(1 + confidence) / 2, n - 1} * std / sqrt(n)`, which assumes
    the values are independent draws from a normal distribution (runs that
    differ only by their seed). With one value the spread is unknown: `std`
    is 0.0 and the interval is None.

    Args:
        values: A non-empty sequence of numbers (e.g. one per seed).
        confidence: Coverage of the interval (default 0.95).

    Returns:
        Dict with `n`, `mean`, `std` (sample standard deviation, n - 1 in
        the denominator), `ci_half_width`, `ci_low` and `ci_high` (None
        for n = 1).

    Example:

    >>> summary = summarize([1.0, 2.0, 3.0])
    >>> summary["mean"], summary["std"]
    (2.0, 1.0)
    >>> round(summary["ci_low"], 4), round(summary["ci_high"], 4)  # 2 -+ 4.3027 / sqrt(3)
    (-0.4841, 4.4841)
    """
    values = [float(value) for value in values]
    n = len(values)
    if n == 0:
        raise ValueError("summarize: no values.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}.")
    mean = math.fsum(values) / n
    if n == 1:
        return {"n": 1, "mean": mean, "std": 0.0,
                "ci_half_width": None, "ci_low": None, "ci_high": None}
    std = math.sqrt(math.fsum((value - mean) ** 2 for value in values) / (n - 1))
    half_width = t_quantile(0.5 + 0.5 * confidence, n - 1) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "ci_half_width": half_width,
            "ci_low": mean - half_width, "ci_high": mean + half_width}


def paired_difference(a, b, confidence=CONFIDENCE):
    """The mean difference `a - b` of paired runs, with its interval.

    `a[i]` and `b[i]` must come from the same seed. The interval is
    `summarize` of the per-pair differences (the paired t interval); it is
    None for a single pair.

    Args:
        a: Sequence of numbers (e.g. a Resolution model's mAP per seed).
        b: Sequence of the same length (the baseline's, same seeds).
        confidence: Coverage of the interval (default 0.95).

    Returns:
        Dict as `summarize` returns for the differences, plus
        `differences`, the list of `a[i] - b[i]`.

    Example:

    >>> result = paired_difference([0.5, 0.7], [0.4, 0.4])
    >>> [round(d, 6) for d in result["differences"]], round(result["mean"], 6)
    ([0.1, 0.3], 0.2)
    """
    a, b = list(a), list(b)
    if len(a) != len(b):
        raise ValueError(f"paired_difference: {len(a)} values against {len(b)}; "
                         "pairs need equal lengths.")
    differences = [float(x) - float(y) for x, y in zip(a, b)]
    return {**summarize(differences, confidence), "differences": differences}


ESTIMATE_KEYS = ("mean", "std", "ci_low", "ci_high")


def estimate_columns(prefix, summary):
    """A `summarize` result as flat table-row keys.

    Example:

    >>> estimate_columns("map50", summarize([0.5]))
    {'map50_mean': 0.5, 'map50_std': 0.0, 'map50_ci_low': None, 'map50_ci_high': None}
    """
    return {f"{prefix}_{key}": summary[key] for key in ESTIMATE_KEYS}


def estimate_from_columns(row, prefix):
    """The keys of `estimate_columns` read back from a row as a dict (None
    when the row has no `<prefix>_mean`)."""
    if row.get(f"{prefix}_mean") is None:
        return None
    return {key: row.get(f"{prefix}_{key}") for key in ESTIMATE_KEYS}


def format_interval(summary, scale=1.0, spec=".1f"):
    """A table cell for the interval of a `summarize` result: `[low, high]`,
    or "-" without one (one run, or `summary` None).

    Args:
        summary: A dict with `ci_low` and `ci_high` (or None).
        scale: Factor applied to both ends (100 for percentages).
        spec: Format spec of each number (`",.0f"`, `"+.1f"`, ...).

    Example:

    >>> format_interval(summarize([0.4, 0.6]), scale=100)
    '[-77.1, 177.1]'
    """
    if summary is None or summary.get("ci_low") is None:
        return "-"
    return f"[{scale * summary['ci_low']:{spec}}, {scale * summary['ci_high']:{spec}}]"


def format_estimate(summary, scale=1.0, spec=".1f"):
    """A table cell for a `summarize` result: `mean [low, high]`, or the
    mean alone when there is no interval (one run).

    Args:
        summary: A dict of `summarize` or `paired_difference` (or None,
            shown as "-").
        scale: Factor applied to every number (100 for percentages).
        spec: Format spec of each number (`"+.1f"` signs differences).

    Example:

    >>> format_estimate(summarize([0.4, 0.6]), scale=100)
    '50.0 [-77.1, 177.1]'
    >>> format_estimate(summarize([0.25]), scale=100, spec="+.1f")
    '+25.0'
    """
    if summary is None:
        return "-"
    mean = f"{scale * summary['mean']:{spec}}"
    if summary.get("ci_low") is None:
        return mean
    return f"{mean} {format_interval(summary, scale, spec)}"
