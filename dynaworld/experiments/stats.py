"""Statistics over seeds for the report's tables and charts."""

from __future__ import annotations

import math

import numpy as np

# two-sided 95% Student-t quantiles by degrees of freedom
_T95 = [
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
]


def mean_ci(values: list[float]) -> tuple[float, float]:
    """Mean and half-width of the 95% confidence interval (Student t; 0 for a single value)."""
    x = np.asarray(values, float)
    if len(x) < 2:
        return float(x.mean()) if len(x) else math.nan, 0.0
    t = _T95[len(x) - 2] if len(x) - 1 <= len(_T95) else 1.96
    return float(x.mean()), float(t * x.std(ddof=1) / math.sqrt(len(x)))


def cell(values: list[float]) -> str:
    """A table cell: mean ± 95% CI (n), or '–' without values."""
    if not values:
        return "–"
    mu, ci = mean_ci(values)
    return f"{mu:.2f} ± {ci:.2f} ({len(values)})"
