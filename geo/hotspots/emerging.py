"""Emerging hot spots: Gi* per time bin, a Mann–Kendall trend per cell, ArcGIS Pro's classes (no I/O).

The period ``[since, until)`` is cut into bins of ``bin_days`` days aligned to its end
(the last bin ends at ``until``, so the final time step — the one most classes hinge
on — is always whole; days before the first whole bin are left out). Issues are counted
per unit cell and bin, Gi* (:mod:`geo.hotspots.gi_star`) is computed for every bin on the same
weights, and a bin of a cell is a *significant hot spot* when its Gi* bin is at least
``+min_bin`` (default 2: 95 % confidence, FDR-corrected per bin by default as in ArcGIS),
a *significant cold spot* when at most ``-min_bin``. ArcGIS's tool also counts
neighbouring time steps as neighbours; here Gi* is spatial within each bin.

The trend is the Mann–Kendall test on the cell's series of Gi* z-scores (the intensity
of clustering), two-sided, normal approximation with the tie correction; it is
significant when its p-value is below ``trend_alpha`` (default 0.05).

Classes (n bins, "hot" = significant hot-spot bin, "≥ 90 %" = at least 90 % of the n
bins; cold classes are the mirror images with hot and cold swapped):

* **new_hot** 新增热点 — the final bin is hot, no earlier bin is hot, no bin is cold.
* **consecutive_hot** 连续热点 — the final bins form one uninterrupted run of at least
  two hot bins, no bin before the run is hot, no bin is cold, and fewer than 90 % of
  the bins are hot.
* **intensifying_hot** 加强热点 — ≥ 90 % of the bins are hot, the final bin is hot, and
  the trend is significant and increasing.
* **persistent_hot** 持续热点 — ≥ 90 % of the bins are hot, the final bin is hot, and
  the trend is not significant.
* **diminishing_hot** 减弱热点 — ≥ 90 % of the bins are hot, the final bin is hot, and
  the trend is significant and decreasing.
* **sporadic_hot** 零星热点 — the final bin is hot, fewer than 90 % of the bins are
  hot, hot bins came and went before (neither new nor consecutive), and no bin is cold.
* **oscillating_hot** 振荡热点 — the final bin is hot, fewer than 90 % of the bins are
  hot, and some earlier bin is cold.
* **historical_hot** 历史热点 — the final bin is not hot (nor cold), and ≥ 90 % of the
  bins are hot.
* **no_pattern** 无显著模式 — none of the above, hot or cold.

The final bin decides the side: a cell whose final bin is hot gets a hot class, cold a
cold class; only the historical classes look past a final bin that is neither. ArcGIS's
wording leaves "new" and "consecutive" silent about earlier cold bins; here a cold bin
makes the cell oscillating, so that every cell gets exactly one class.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.stats import norm

from geo.errors import ValidationError
from geo.hotspots.gi_star import confidence_bins, gi_star_z, queen_weights

#: class key → Chinese label, hot classes, cold classes, then no pattern
CLASS_LABELS = {
    "new_hot": "新增热点", "consecutive_hot": "连续热点", "intensifying_hot": "加强热点",
    "persistent_hot": "持续热点", "diminishing_hot": "减弱热点", "sporadic_hot": "零星热点",
    "oscillating_hot": "振荡热点", "historical_hot": "历史热点",
    "new_cold": "新增冷点", "consecutive_cold": "连续冷点", "intensifying_cold": "加强冷点",
    "persistent_cold": "持续冷点", "diminishing_cold": "减弱冷点", "sporadic_cold": "零星冷点",
    "oscillating_cold": "振荡冷点", "historical_cold": "历史冷点",
    "no_pattern": "无显著模式",
}
#: class key → English label
CLASS_LABELS_EN = {
    "new_hot": "new hot spot", "consecutive_hot": "consecutive hot spot", "intensifying_hot": "intensifying hot spot",
    "persistent_hot": "persistent hot spot", "diminishing_hot": "diminishing hot spot",
    "sporadic_hot": "sporadic hot spot", "oscillating_hot": "oscillating hot spot",
    "historical_hot": "historical hot spot",
    "new_cold": "new cold spot", "consecutive_cold": "consecutive cold spot",
    "intensifying_cold": "intensifying cold spot", "persistent_cold": "persistent cold spot",
    "diminishing_cold": "diminishing cold spot", "sporadic_cold": "sporadic cold spot",
    "oscillating_cold": "oscillating cold spot", "historical_cold": "historical cold spot",
    "no_pattern": "no pattern",
}
#: the rule of each class (the module docstring's, for one cell's page), Chinese and English; cold classes
#: are the mirror images of the hot ones
_HOT_REASONS = {
    "new": ("最后一个时段是热点，之前没有热点时段，也没有冷点时段。",
            "the final bin is a hot spot; no earlier bin was hot and none was cold."),
    "consecutive": ("最后连续至少两个时段是热点，此前没有热点，也没有冷点，热点时段不足九成。",
                    "the final bins form one run of at least two hot bins, none hot before it, none cold, "
                    "fewer than 90 % of the bins hot."),
    "intensifying": ("至少九成时段是热点，最后一个时段是热点，且 z 值趋势显著上升（Mann–Kendall）。",
                     "at least 90 % of the bins are hot, the final one too, and the trend of z rises "
                     "significantly (Mann–Kendall)."),
    "persistent": ("至少九成时段是热点，最后一个时段是热点，z 值没有显著趋势。",
                   "at least 90 % of the bins are hot, the final one too, and z has no significant trend."),
    "diminishing": ("至少九成时段是热点，最后一个时段是热点，但 z 值趋势显著下降。",
                    "at least 90 % of the bins are hot, the final one too, but the trend of z falls significantly."),
    "sporadic": ("最后一个时段是热点，此前热点时有时无（不足九成），没有冷点时段。",
                 "the final bin is hot; hot bins came and went before (fewer than 90 %), none was cold."),
    "oscillating": ("最后一个时段是热点，但此前有冷点时段。",
                    "the final bin is hot but some earlier bin was cold."),
    "historical": ("最后一个时段不是热点，但至少九成时段曾是热点。",
                   "the final bin is not hot, but at least 90 % of the bins were."),
}


def _mirrored(text: str, english: bool) -> str:
    pairs = (("hot", "cold"),) if english else (("热点", "冷点"),)
    for hot, cold in pairs:
        text = text.replace(hot, "\0").replace(cold, hot).replace("\0", cold)
    return text.replace("rises", "\1").replace("falls", "rises").replace("\1", "falls") if english else \
        text.replace("上升", "\1").replace("下降", "上升").replace("\1", "下降")


#: class key → (Chinese, English) rule that gives a cell the class
CLASS_REASONS = {
    **{f"{name}_hot": texts for name, texts in _HOT_REASONS.items()},
    **{f"{name}_cold": (_mirrored(zh, False), _mirrored(en, True)) for name, (zh, en) in _HOT_REASONS.items()},
    "no_pattern": ("不符合以上任何一类：最后一个时段既非热点也非冷点，且热点、冷点时段都不足九成。",
                   "none of the classes: the final bin is neither hot nor cold and fewer than 90 % of the bins "
                   "were hot or cold."),
}
MOST_BINS_SHARE = 0.9


def mann_kendall(series: np.ndarray) -> pd.DataFrame:
    """Mann–Kendall trend test of each row of a matrix (one series per row, time along columns).

    Parameters
    ----------
    series : array_like, shape (m, n)
        m series of n ≥ 2 time steps each.

    Returns
    -------
    DataFrame
        ``trend_s`` (the S statistic), ``trend_z`` (continuity-corrected z) and
        ``trend_p`` (two-sided); z = 0 and p = 1 when S's variance is 0 (all values tied).
    """
    x = np.asarray(series, dtype=float)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValidationError(f"Mann–Kendall needs series of at least 2 steps, got shape {x.shape}")
    m, n = x.shape
    s = np.zeros(m)
    for lag in range(1, n):  # n-1 vectorised steps over every series and every pair at this lag
        s += np.sign(x[:, lag:] - x[:, :-lag]).sum(axis=1)
    # tie correction: each run of t equal values removes t(t-1)(2t+5) from the variance
    ordered = np.sort(x, axis=1)
    starts = np.ones((m, n), dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    run_id = np.cumsum(starts.ravel()) - 1
    t = np.bincount(run_id).astype(float)
    run_row = np.repeat(np.arange(m), starts.sum(axis=1))
    ties = np.bincount(run_row, weights=t * (t - 1) * (2 * t + 5), minlength=m)
    var = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, (s - np.sign(s)) / np.sqrt(np.where(var > 0, var, 1.0)), 0.0)
    return pd.DataFrame({"trend_s": s, "trend_z": z, "trend_p": 2.0 * norm.sf(np.abs(z))})


def _side_classes(hot: np.ndarray, cold: np.ndarray, trend_z: np.ndarray, trend_sig: np.ndarray,
                  side: str) -> np.ndarray:
    """The class of each series whose final bin is ``hot`` (side "hot"; for "cold" pass cold as hot)."""
    n = hot.shape[1]
    most = hot.sum(axis=1) >= MOST_BINS_SHARE * n
    final = hot[:, -1]
    earlier_hot = hot[:, :-1].any(axis=1)
    # length of the run of hot bins that ends with the final bin
    not_hot_pos = np.where(~hot, np.arange(n), -1).max(axis=1)
    run = n - 1 - not_hot_pos
    hot_before_run = (hot & (np.arange(n) < (n - run)[:, None])).any(axis=1)
    toward = trend_z > 0 if side == "hot" else trend_z < 0
    conditions = [
        final & most & trend_sig & toward,
        final & most & trend_sig & ~toward,
        final & most,
        final & cold.any(axis=1),
        final & ~earlier_hot,
        final & (run >= 2) & ~hot_before_run,
        final,
        ~final & most & ~cold[:, -1],
    ]
    names = ["intensifying", "diminishing", "persistent", "oscillating", "new", "consecutive", "sporadic",
             "historical"]
    return np.select(conditions, [f"{name}_{side}" for name in names], default="no_pattern")


def classify_emerging(gi_bins: np.ndarray, trend: pd.DataFrame, *, min_bin: int = 2,
                      trend_alpha: float = 0.05) -> np.ndarray:
    """The emerging-hot-spot class of each cell (rules in the module docstring).

    Parameters
    ----------
    gi_bins : array_like of int, shape (m, n)
        Gi* confidence bins (−3…+3) of m cells over n time bins, oldest first.
    trend : DataFrame
        :func:`mann_kendall` of the cells' Gi* z-scores (``trend_z``, ``trend_p``).
    min_bin : int, keyword-only
        A bin counts as a significant hot (cold) spot from ``+min_bin`` (``-min_bin``): 1, 2 or 3.

    Returns
    -------
    numpy.ndarray of str
        Keys of :data:`CLASS_LABELS`.
    """
    if min_bin not in (1, 2, 3):
        raise ValidationError(f"min_bin={min_bin!r}: expected 1 (90 %), 2 (95 %) or 3 (99 %)")
    bins = np.asarray(gi_bins)
    if bins.ndim != 2 or len(trend) != bins.shape[0]:
        raise ValidationError(f"gi_bins of shape {bins.shape} do not match {len(trend)} trends")
    hot, cold = bins >= min_bin, bins <= -min_bin
    trend_z = trend["trend_z"].to_numpy(float)
    sig = trend["trend_p"].to_numpy(float) < trend_alpha
    hot_side = _side_classes(hot, cold, trend_z, sig, "hot")
    cold_side = _side_classes(cold, hot, trend_z, sig, "cold")
    return np.where(hot[:, -1] | (hot_side != "no_pattern"), hot_side, cold_side)


def time_bins(since: datetime, until: datetime, *, bin_days: int) -> pd.DatetimeIndex:
    """Start of each whole bin of ``bin_days`` days ending at ``until``, oldest first, plus ``until``."""
    start, end = pd.Timestamp(since), pd.Timestamp(until)
    if bin_days < 1:
        raise ValidationError(f"bin_days={bin_days!r}: expected a whole number of days ≥ 1")
    n = int((end - start) // pd.Timedelta(days=bin_days))
    if n < 2:
        raise ValidationError(f"the period {start:%Y-%m-%d} – {end:%Y-%m-%d} holds {n} bin(s) of {bin_days} days;"
                              " at least 2 are needed (ArcGIS recommends 10 or more)")
    return pd.DatetimeIndex([end - pd.Timedelta(days=bin_days) * k for k in range(n, -1, -1)])


def emerging_hotspots(
    issues: pd.DataFrame,
    cells: gpd.GeoDataFrame,
    *,
    since: datetime,
    until: datetime,
    bin_days: int = 7,
    weights: sp.spmatrix | None = None,
    fdr: bool = True,
    min_bin: int = 2,
    trend_alpha: float = 0.05,
) -> gpd.GeoDataFrame:
    """Emerging hot-spot analysis of issues over unit cells.

    Parameters
    ----------
    issues : DataFrame
        Issues with ``cell_code`` and ``reported_at`` (filter them first with
        :func:`geo.loop.counts.filter_issues`).
    cells : GeoDataFrame
        Unit cells with ``code``, ``col``, ``row``.
    since, until : datetime, keyword-only
        The period ``[since, until)``, naive local time.
    bin_days : int, keyword-only
        Time-bin length in days (default 7: weekly).
    weights : scipy.sparse matrix, keyword-only
        Spatial weights aligned with ``cells``; queen contiguity by default.
    fdr, min_bin, trend_alpha : keyword-only
        See the module docstring.

    Returns
    -------
    GeoDataFrame
        ``cells`` with ``ehsa_class`` (key of :data:`CLASS_LABELS`), ``ehsa_label``
        (Chinese), ``count`` (issues in the whole bins), ``hot_bins``, ``cold_bins``,
        ``n_bins``, ``last_gi_z`` (the final bin's z-score), ``trend_z``, ``trend_p``.
    """
    series = emerging_series(issues, cells, since=since, until=until, bin_days=bin_days, weights=weights, fdr=fdr)
    return classify_series(series, cells, min_bin=min_bin, trend_alpha=trend_alpha)


def classify_series(series: EmergingSeries, cells: gpd.GeoDataFrame, *, min_bin: int = 2,
                    trend_alpha: float = 0.05) -> gpd.GeoDataFrame:
    """``cells`` with the classes of their series (the columns :func:`emerging_hotspots` returns)."""
    z, bins, counts = series.z, series.bins, series.counts
    trend = mann_kendall(z)
    classes = classify_emerging(bins, trend, min_bin=min_bin, trend_alpha=trend_alpha)
    return cells.assign(
        ehsa_class=classes, ehsa_label=pd.Series(classes, index=cells.index).map(CLASS_LABELS),
        count=counts.sum(axis=1).astype("int64"), hot_bins=(bins >= min_bin).sum(axis=1),
        cold_bins=(bins <= -min_bin).sum(axis=1), n_bins=len(series.starts), last_gi_z=z[:, -1],
        trend_z=trend["trend_z"].to_numpy(), trend_p=trend["trend_p"].to_numpy(),
    )


def emerging_from_counts(counts: np.ndarray, cells: gpd.GeoDataFrame, *, starts: pd.DatetimeIndex, bin_days: int,
                         weights: sp.spmatrix | None = None, fdr: bool = True, min_bin: int = 2,
                         trend_alpha: float = 0.05) -> tuple[gpd.GeoDataFrame, EmergingSeries]:
    """:func:`emerging_hotspots` of issues already counted per cell and bin (a database's ``GROUP BY``).

    Parameters
    ----------
    counts : ndarray, shape (cells, bins)
        Issues per cell (in ``cells`` order) and bin (oldest first).
    starts : DatetimeIndex
        The first instant of each bin (:func:`time_bins` without its last edge).

    Returns
    -------
    (GeoDataFrame, EmergingSeries)
        The classified cells and the series they were classified from.
    """
    series = series_of_counts(np.asarray(counts, dtype=float), cells, starts=starts, bin_days=bin_days,
                              weights=weights, fdr=fdr)
    return classify_series(series, cells, min_bin=min_bin, trend_alpha=trend_alpha), series


@dataclass(frozen=True)
class EmergingSeries:
    """Per cell and time bin: issue ``counts``, Gi* ``z`` and confidence ``bins`` (−3…+3), shape (cells, bins).

    ``starts`` holds the first day of each bin (oldest first), ``bin_days`` their length.
    """

    starts: pd.DatetimeIndex
    bin_days: int
    counts: np.ndarray
    z: np.ndarray
    bins: np.ndarray


def emerging_series(
    issues: pd.DataFrame,
    cells: gpd.GeoDataFrame,
    *,
    since: datetime,
    until: datetime,
    bin_days: int = 7,
    weights: sp.spmatrix | None = None,
    fdr: bool = True,
) -> EmergingSeries:
    """The time series that :func:`emerging_hotspots` classifies (same parameters): counts, Gi* z, bins per cell."""
    edges = time_bins(since, until, bin_days=bin_days)
    n_bins = len(edges) - 1
    times = pd.to_datetime(issues["reported_at"]).to_numpy()
    which = np.searchsorted(edges.to_numpy(), times, side="right") - 1
    position = pd.Index(cells["code"]).get_indexer(issues["cell_code"])
    keep = (which >= 0) & (which < n_bins) & (position >= 0)
    counts = np.zeros((len(cells), n_bins))
    np.add.at(counts, (position[keep], which[keep]), 1.0)
    return series_of_counts(counts, cells, starts=edges[:-1], bin_days=bin_days, weights=weights, fdr=fdr)


def series_of_counts(counts: np.ndarray, cells: gpd.GeoDataFrame, *, starts: pd.DatetimeIndex, bin_days: int,
                     weights: sp.spmatrix | None = None, fdr: bool = True) -> EmergingSeries:
    """Gi* z and confidence bins of each bin of issue ``counts`` (cells × bins, ``cells`` order)."""
    w = queen_weights(cells) if weights is None else weights
    z = gi_star_z(counts, w)
    bins = confidence_bins(z, 2.0 * norm.sf(np.abs(z)), fdr=fdr)
    return EmergingSeries(starts=starts, bin_days=bin_days, counts=counts, z=z, bins=np.asarray(bins))
