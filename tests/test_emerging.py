"""Emerging hot spots: Mann–Kendall, one constructed series per class, and a whole run on a small grid."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from geo.errors import ValidationError
from geo.hotspots.emerging import (
    CLASS_LABELS,
    classify_emerging,
    emerging_hotspots,
    mann_kendall,
    time_bins,
)

SIG_UP = {"trend_z": 3.0, "trend_p": 0.003}
SIG_DOWN = {"trend_z": -3.0, "trend_p": 0.003}
FLAT = {"trend_z": 0.4, "trend_p": 0.69}

# 10 bins, so "90 % of the bins" is 9 of them; 2 = hot at 95 %, -2 = cold at 95 %
HOT_SERIES = {
    "new_hot": ([0] * 9 + [2], FLAT),
    "consecutive_hot": ([0] * 7 + [2, 3, 2], FLAT),
    "intensifying_hot": ([2] * 10, SIG_UP),
    "persistent_hot": ([1] + [2] * 9, FLAT),
    "diminishing_hot": ([3] * 10, SIG_DOWN),
    "sporadic_hot": ([0, 2, 0, 0, 2, 2, 0, 0, 0, 2], FLAT),
    "oscillating_hot": ([0, -2, 0, 0, 0, 0, 0, 0, 0, 2], FLAT),
    "historical_hot": ([2] * 9 + [0], FLAT),
}


def _cases():
    for name, (bins, trend) in HOT_SERIES.items():
        yield name, bins, trend
        yield name.replace("_hot", "_cold"), [-b for b in bins], {"trend_z": -trend["trend_z"],
                                                                  "trend_p": trend["trend_p"]}
    yield "no_pattern", [0] * 10, FLAT
    yield "no_pattern", [2, 2, 0, 0, 0, 0, 0, 0, 0, 0], FLAT  # hot once, long ago
    yield "no_pattern", [1] * 10, SIG_UP  # 90 % confidence is below the 95 % asked for


CASES = list(_cases())


def test_every_class_has_its_constructed_series():
    assert {name for name, _, _ in CASES} == set(CLASS_LABELS)


@pytest.mark.parametrize("expected, bins, trend", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_one_series_per_class(expected, bins, trend):
    assert classify_emerging(np.array([bins]), pd.DataFrame([trend]))[0] == expected


def test_all_series_at_once_give_the_same_classes():
    bins = np.array([b for _, b, _ in CASES])
    trend = pd.DataFrame([t for _, _, t in CASES])
    assert classify_emerging(bins, trend).tolist() == [name for name, _, _ in CASES]


def test_min_bin_three_only_counts_99_percent_bins():
    trend = pd.DataFrame([FLAT])
    assert classify_emerging(np.array([[0] * 9 + [2]]), trend, min_bin=3)[0] == "no_pattern"
    assert classify_emerging(np.array([[0] * 9 + [3]]), trend, min_bin=3)[0] == "new_hot"
    with pytest.raises(ValidationError, match="min_bin=4"):
        classify_emerging(np.array([[0, 3]]), trend, min_bin=4)


def test_mann_kendall_by_hand():
    result = mann_kendall(np.array([[1, 2, 3, 4, 5], [5, 4, 3, 2, 1], [1, 1, 2, 2, 2], [3, 3, 3, 3, 3]], float))
    # rising: S = 10, var = 5·4·15/18 = 16.67, z = (10 - 1)/sqrt(var)
    assert result["trend_s"].tolist() == [10, -10, 6, 0]
    z = 9 / np.sqrt(5 * 4 * 15 / 18)
    assert result["trend_z"][0] == pytest.approx(z) and result["trend_z"][1] == pytest.approx(-z)
    assert result["trend_p"][0] == pytest.approx(2 * norm.sf(z))
    # ties (a run of 2 and a run of 3): var = (5·4·15 - 2·1·9 - 3·2·11)/18 = 11.33
    assert result["trend_z"][2] == pytest.approx(5 / np.sqrt((300 - 18 - 66) / 18))
    assert result["trend_z"][3] == 0 and result["trend_p"][3] == 1


def test_time_bins_end_at_until():
    edges = time_bins(datetime(2025, 1, 1), datetime(2025, 1, 31), bin_days=7)
    assert edges[-1] == pd.Timestamp(2025, 1, 31) and edges[0] == pd.Timestamp(2025, 1, 3) and len(edges) == 5
    with pytest.raises(ValidationError, match="1 bin"):
        time_bins(datetime(2025, 1, 1), datetime(2025, 1, 10), bin_days=7)


def test_whole_run_on_a_grid():
    # 12 x 12 cells, 12 weekly bins; one issue per cell and week everywhere, plus 10 a week in a 3 x 3
    # block (every week: persistent) and 10 in another block in the last week only (new)
    cells = pd.DataFrame({"col": np.tile(np.arange(12), 12), "row": np.repeat(np.arange(12), 12)})
    cells["code"] = [f"C{i:03d}" for i in range(len(cells))]
    until = datetime(2025, 12, 29)
    rows = []
    for week in range(12):
        day = until - timedelta(days=7 * (12 - week)) + timedelta(hours=30)
        rows += [(code, day) for code in cells["code"]]
        rows += [(f"C{r * 12 + c:03d}", day) for r in (1, 2, 3) for c in (1, 2, 3) for _ in range(10)]
        if week == 11:
            rows += [(f"C{r * 12 + c:03d}", day) for r in (8, 9, 10) for c in (8, 9, 10) for _ in range(10)]
    issues = pd.DataFrame(rows, columns=["cell_code", "reported_at"])
    out = emerging_hotspots(issues, cells, since=until - timedelta(days=84), until=until)
    by_code = out.set_index("code")
    assert by_code.loc["C026", "ehsa_class"] == "persistent_hot"  # centre of the first block (row 2, col 2)
    assert by_code.loc["C117", "ehsa_class"] == "new_hot"  # centre of the second block (row 9, col 9)
    assert by_code.loc["C026", "count"] == 12 * 11 and by_code.loc["C026", "n_bins"] == 12
    assert by_code.loc["C143", "ehsa_class"] == "no_pattern"
    assert set(out["ehsa_label"]) <= set(CLASS_LABELS.values())
