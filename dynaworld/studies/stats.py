"""Statistics over seeds for reports, in the manner of rliable (Agarwal et al. 2021).

* Point estimates: the mean and the IQM (interquartile mean: the mean of the middle 50% of runs,
  pooled over games; robust to one outlying seed, less noisy than the median).
* 95% CIs: percentile bootstrap, *stratified*: each resample draws seeds with replacement within
  each game, so games keep their weight. A percentile interval of a mean or IQM never leaves the
  range the data take (a return CI cannot pass the game's best run). Below ``SMALL_N`` runs in a
  game a bootstrap of a handful of values is too narrow (three runs: 27 distinct resamples), so
  the mean gets Student's t-interval (shown ``t[lo, hi]``) and the IQM none ("not estimable").
* Comparisons: probability of improvement P(X > Y) (ties count 1/2), averaged over games, with a
  stratified bootstrap CI; Welch's t-test per game (scipy), Holm-corrected over the family of
  comparisons a report makes (declared in the experiment file, before the runs).

Resamples use a fixed seed, so a report is reproducible. rliable itself is not a dependency (it
pins an old ``arch``); these are its definitions, in numpy and scipy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

REPS = 2000  # bootstrap resamples (rliable's default)
SMALL_N = 8  # fewer runs than this in any game: t-interval for the mean, none for the IQM
LEVEL = 0.95
SEED = 0

Statistic = Callable[[np.ndarray], np.ndarray]  # (reps, runs) -> (reps,)


def mean(x: np.ndarray) -> np.ndarray:
    return np.mean(x, axis=-1)


def iqm(x: np.ndarray) -> np.ndarray:
    """The interquartile mean along the last axis (scipy's 25% trimmed mean, as rliable)."""
    return np.asarray(sps.trim_mean(x, 0.25, axis=-1))


STATISTICS: dict[str, Statistic] = {"mean": mean, "IQM": iqm}


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap CI over ``n`` runs (lo = hi = point when n = 1)."""

    point: float
    lo: float
    hi: float
    n: int
    kind: str = "bootstrap"  # 'bootstrap', 't' (Student, small n) or 'none' (not estimable)

    def __str__(self) -> str:
        return cell_text(self)


def _tasks(scores: Sequence[Sequence[float]] | Sequence[float]) -> list[np.ndarray]:
    """Scores as one array of seeds per game (a flat list is one game)."""
    if len(scores) and np.ndim(scores[0]) == 0:
        return [np.asarray(scores, float)]
    return [np.asarray(s, float) for s in scores if len(s)]  # type: ignore[arg-type]


def _resample(tasks: list[np.ndarray], rng: np.random.Generator, reps: int) -> np.ndarray:
    """(reps, runs): each game's seeds drawn with replacement within the game."""
    parts = [t[rng.integers(len(t), size=(reps, len(t)))] for t in tasks]
    return np.concatenate(parts, axis=1)


def interval(
    scores: Sequence[Sequence[float]] | Sequence[float],
    statistic: str = "mean",
    reps: int = REPS,
    seed: int = SEED,
) -> Interval:
    """``statistic`` ('mean' or 'IQM') of the runs with its stratified bootstrap 95% CI.
    ``scores``: one game's seeds, or a list of games' seeds (pooled, resampled per game)."""
    tasks = _tasks(scores)
    n = sum(len(t) for t in tasks)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    f = STATISTICS[statistic]
    point = float(f(np.concatenate(tasks)[None])[0])
    if n == 1 or all(len(t) == 1 for t in tasks):
        return Interval(point, point, point, n)
    if min(len(t) for t in tasks) < SMALL_N:
        return small_n_interval(tasks, point, statistic)
    boot = f(_resample(tasks, np.random.default_rng(seed), reps))
    alpha = (1 - LEVEL) / 2
    lo, hi = np.quantile(boot, [alpha, 1 - alpha])
    return Interval(point, float(lo), float(hi), n)


def small_n_interval(tasks: list[np.ndarray], point: float, statistic: str) -> Interval:
    """Below ``SMALL_N`` runs a game: the mean's Student t-interval (stratified standard error,
    degrees of freedom of the smallest game), the IQM's none."""
    n = sum(len(t) for t in tasks)
    if statistic != "mean" or any(len(t) < 2 for t in tasks):
        return Interval(point, math.nan, math.nan, n, "none")
    se = math.sqrt(sum((len(t) / n) ** 2 * t.var(ddof=1) / len(t) for t in tasks))
    half = float(sps.t.ppf(1 - (1 - LEVEL) / 2, min(len(t) for t in tasks) - 1)) * se
    return Interval(point, point - half, point + half, n, "t")


def cell_text(iv: Interval, digits: int = 2) -> str:
    """'12.34 [10.10, 14.00] (n=8)' (bootstrap); '12.34 t[10.10, 14.00] (n=5)' (Student t, small
    n); '12.34 (n=3; no CI below 8 runs)'; one run: '12.34 (n=1)'; none: '–'."""
    if iv.n == 0:
        return "–"
    f = f"{{:.{digits}f}}"
    if iv.n == 1:
        return f"{f.format(iv.point)} (n=1)"
    if iv.kind == "none":
        return f"{f.format(iv.point)} (n={iv.n}; no CI below {SMALL_N} runs)"
    t = "t" if iv.kind == "t" else ""
    return f"{f.format(iv.point)} {t}[{f.format(iv.lo)}, {f.format(iv.hi)}] (n={iv.n})"


def cell(values: Sequence[float], statistic: str = "mean", digits: int = 2) -> str:
    """A table cell: the statistic of ``values`` with its 95% bootstrap CI and n."""
    return cell_text(interval(list(values), statistic), digits)


def _p_improve(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X > Y) + P(X = Y)/2 for resampled runs x (reps, n), y (reps, m)."""
    gt = (x[:, :, None] > y[:, None, :]).mean(axis=(1, 2))
    eq = (x[:, :, None] == y[:, None, :]).mean(axis=(1, 2))
    return gt + 0.5 * eq


def probability_of_improvement(
    x: Sequence[Sequence[float]] | Sequence[float],
    y: Sequence[Sequence[float]] | Sequence[float],
    reps: int = REPS,
    seed: int = SEED,
) -> Interval:
    """P(a run of X scores above a run of Y), averaged over games, with a stratified bootstrap
    95% CI (none below ``SMALL_N`` runs a game); ``x`` and ``y`` list the same games in order."""
    xt, yt = _tasks(x), _tasks(y)
    if len(xt) != len(yt) or not xt:
        raise ValueError("probability_of_improvement needs the same games for X and Y")
    point = float(np.mean([_p_improve(a[None], b[None])[0] for a, b in zip(xt, yt, strict=True)]))
    n = min(sum(map(len, xt)), sum(map(len, yt)))
    if all(len(a) == 1 for a in xt) and all(len(b) == 1 for b in yt):
        return Interval(point, point, point, n)
    if min(len(t) for t in xt + yt) < SMALL_N:  # a bootstrap of a handful of runs: too narrow
        return Interval(point, math.nan, math.nan, n, "none")
    rng = np.random.default_rng(seed)
    boot = np.mean(
        [
            _p_improve(_resample([a], rng, reps), _resample([b], rng, reps))
            for a, b in zip(xt, yt, strict=True)
        ],
        axis=0,
    )
    alpha = (1 - LEVEL) / 2
    lo, hi = np.quantile(boot, [alpha, 1 - alpha])
    return Interval(point, float(lo), float(hi), n)


def welch_p(x: Sequence[float], y: Sequence[float]) -> float:
    """Two-sided Welch t-test p-value (nan with fewer than 2 runs a side or no variance)."""
    a, b = np.asarray(x, float), np.asarray(y, float)
    if len(a) < 2 or len(b) < 2 or (a.std() == 0 and b.std() == 0):
        return math.nan
    return float(sps.ttest_ind(a, b, equal_var=False).pvalue)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values over one family (nan entries are not tests)."""
    p = np.asarray(pvalues, float)
    ok = np.flatnonzero(~np.isnan(p))
    out = np.full(len(p), math.nan)
    m = len(ok)
    order = ok[np.argsort(p[ok], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()
