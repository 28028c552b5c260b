"""Getis-Ord Gi*: z-scores against esda (the oracle), weights, FDR, bins, the constant field."""

from __future__ import annotations

import warnings

import esda
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from libpysal.graph import Graph
from libpysal.weights import W, lat2W, w_subset
from shapely.geometry import box

from geo import store
from geo.errors import ValidationError
from geo.hotspots.gi_star import (
    confidence_bins,
    distance_band_weights,
    fdr_thresholds,
    gi_star,
    gi_star_z,
    queen_weights,
)
from geo.store.db import make_engine


def _esda_z(values: np.ndarray, weights: sp.spmatrix, *, graph: bool = True) -> np.ndarray:
    w = Graph.from_sparse(weights) if graph else W.from_sparse(sp.csr_matrix(weights))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # islands, and esda's 0/0 on a constant field
        return esda.G_Local(values, w, transform="B", star=True, permutations=0).Zs


def _grid(nrows: int, ncols: int, *, keep: np.ndarray | None = None) -> pd.DataFrame:
    cells = pd.DataFrame({"col": np.tile(np.arange(ncols), nrows), "row": np.repeat(np.arange(nrows), ncols)})
    cells["code"] = cells.index.astype(str)
    return cells if keep is None else cells[keep].reset_index(drop=True)


@pytest.fixture(scope="module")
def sample_cells(sample_db):
    engine = make_engine(sample_db.resolved_database_url)
    cells = store.read_layer(engine, "unit_cells", jurisdiction_code=sample_db.jurisdiction_code)
    counts = store.count_issues_by(engine, "cell_code", jurisdiction_code=sample_db.jurisdiction_code)
    engine.dispose()
    return cells.assign(count=cells["code"].map(counts).fillna(0).to_numpy(float))


def test_sample_grid_equals_esda(sample_cells):
    w = queen_weights(sample_cells)
    y = sample_cells["count"].to_numpy()
    ours = gi_star_z(y, w)
    assert np.abs(ours - _esda_z(y, w)).max() < 1e-9
    assert np.abs(ours - _esda_z(y, w, graph=False)).max() < 1e-9
    # the sample has real clusters: some cells are hot at 99 %
    assert (gi_star(y, w)["gi_bin"] == 3).sum() > 10


def test_sample_queen_weights_are_the_150m_distance_band(sample_cells):
    # on a 100 m grid the 8 queen neighbours are exactly the centres within 141.4 m
    queen = queen_weights(sample_cells)
    band = distance_band_weights(sample_cells, threshold_m=150.0)
    assert (queen != band).nnz == 0
    assert queen.diagonal().sum() == 0 and (queen != queen.T).nnz == 0
    assert queen.sum(axis=1).max() == 8
    rook = distance_band_weights(sample_cells, threshold_m=105.0)
    assert rook.sum(axis=1).max() == 4


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_full_grid_equals_esda_and_lat2w(seed):
    rng = np.random.default_rng(seed)
    nrows, ncols = rng.integers(3, 25, size=2)
    cells = _grid(int(nrows), int(ncols))
    w = queen_weights(cells)
    # independent weights: libpysal's lattice queen contiguity, row-major like _grid
    reference = lat2W(int(nrows), int(ncols), rook=False).sparse
    assert (w != reference).nnz == 0
    y = rng.poisson(rng.uniform(0.5, 8), size=len(cells)).astype(float)
    assert np.abs(gi_star_z(y, w) - _esda_z(y, w)).max() < 1e-9


def test_edge_and_corner_cells_have_fewer_neighbours_and_still_match():
    cells = _grid(4, 5)
    w = queen_weights(cells)
    neighbours = np.asarray(w.sum(axis=1)).ravel()
    assert neighbours[0] == 3 and neighbours[1] == 5 and neighbours[6] == 8  # corner, edge, inside
    y = np.arange(20, dtype=float) ** 1.5
    assert np.abs(gi_star_z(y, w) - _esda_z(y, w)).max() < 1e-9


@pytest.mark.parametrize("seed", [3, 4])
def test_grid_with_holes_and_islands_equals_esda(seed):
    rng = np.random.default_rng(seed)
    keep = rng.random(30 * 30) > 0.35
    cells = _grid(30, 30, keep=keep)
    w = queen_weights(cells)
    full = lat2W(30, 30, rook=False)
    ids = np.flatnonzero(keep)
    reference = w_subset(full, list(ids)).sparse
    assert (w != reference).nnz == 0
    islands = np.asarray(w.sum(axis=1)).ravel() == 0
    y = rng.poisson(3, size=len(cells)).astype(float)
    ours = gi_star_z(y, w)
    assert np.abs(ours - _esda_z(y, w)).max() < 1e-9
    # an island is its own neighbourhood: z = (y - mean) / s
    if islands.any():
        i = np.flatnonzero(islands)[0]
        assert ours[i] == pytest.approx((y[i] - y.mean()) / y.std(), abs=1e-12)


def test_distance_band_weights_match_esda_on_real_geometry():
    # 12 x 9 cells of 100 m in EPSG:4548, some removed; band of 250 m (up to 2 cells away)
    x0, y0 = 528500.0, 4327400.0
    boxes = [box(x0 + c * 100, y0 + r * 100, x0 + (c + 1) * 100, y0 + (r + 1) * 100) for r in range(9) for c in range(12)]
    cells = gpd.GeoDataFrame({"code": [str(i) for i in range(108)]}, geometry=boxes, crs="EPSG:4548").to_crs(4326)
    cells = cells.drop(index=[5, 17, 40, 41, 77]).reset_index(drop=True)
    w = distance_band_weights(cells, threshold_m=250.0)
    assert w.sum(axis=1).max() == 20  # the disc of radius 2.5 cells holds 21 centres with the focal one
    y = (np.arange(len(cells)) % 7).astype(float)
    assert np.abs(gi_star_z(y, w) - _esda_z(y, w)).max() < 1e-9


def test_constant_field_is_no_evidence_of_clustering():
    cells = _grid(6, 7)
    w = queen_weights(cells)
    for value in (0.0, 4.0):
        y = np.full(len(cells), value)
        assert np.isnan(_esda_z(y, w)).all()  # esda divides 0 by 0
        result = gi_star(y, w, fdr=True)
        assert (result["gi_z"] == 0).all() and (result["gi_p"] == 1).all() and (result["gi_bin"] == 0).all()


def test_whole_area_neighbourhood_and_two_dimensional_input():
    # 2 x 2 cells: every cell's neighbourhood is the whole area, so Gi* is undefined (0)
    w = queen_weights(_grid(2, 2))
    assert (gi_star_z(np.array([1.0, 5.0, 2.0, 9.0]), w) == 0).all()
    # several fields at once give the same z as one at a time
    cells = _grid(5, 6)
    w = queen_weights(cells)
    fields = np.random.default_rng(5).poisson(2, size=(len(cells), 4)).astype(float)
    together = gi_star_z(fields, w)
    for k in range(4):
        assert np.allclose(together[:, k], gi_star_z(fields[:, k], w), atol=1e-12)


def test_bad_input_is_refused():
    w = queen_weights(_grid(3, 3))
    with pytest.raises(ValidationError, match="shape"):
        gi_star_z(np.ones(8), w)
    with pytest.raises(ValidationError, match="finite"):
        gi_star_z(np.array([1, 2, np.nan, 1, 1, 1, 1, 1, 1.0]), w)
    with pytest.raises(ValidationError, match="threshold_m=-5"):
        distance_band_weights(gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1)], crs=4326), threshold_m=-5)


# The classic Benjamini–Hochberg example (m = 10), with the cut-offs worked by hand:
#   alpha 0.10: k·0.01  → p(6) = 0.060 ≤ 0.06 is the largest passing → the 6 smallest are significant
#   alpha 0.05: k·0.005 → p(2) = 0.008 ≤ 0.010 → 2 significant
#   alpha 0.01: k·0.001 → p(1) = 0.001 ≤ 0.001 → 1 significant
P = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.060, 0.074, 0.205, 0.212, 0.216])
Z = np.array([4.0, -3.0, 2.1, -2.0, 2.0, 1.9, 1.8, 1.2, -1.2, 1.2])


def test_fdr_against_a_hand_computed_case():
    assert fdr_thresholds(P, 0.10) == pytest.approx(0.060)
    assert fdr_thresholds(P, 0.05) == pytest.approx(0.008)
    assert fdr_thresholds(P, 0.01) == pytest.approx(0.001)
    order = np.random.default_rng(0).permutation(10)  # the answer does not depend on the order
    assert confidence_bins(Z[order], P[order], fdr=True).tolist() == [
        [3, -2, 1, -1, 1, 1, 0, 0, 0, 0][i] for i in order]
    assert fdr_thresholds(np.array([0.5, 0.9]), 0.05) == -1


def test_bins_without_fdr_use_the_plain_levels():
    assert confidence_bins(Z, P).tolist() == [3, -3, 2, -2, 2, 1, 1, 0, 0, 0]
    # 2-D: one test family per column
    both = confidence_bins(np.column_stack([Z, Z]), np.column_stack([P, P]), fdr=True)
    assert both[:, 0].tolist() == both[:, 1].tolist() == [3, -2, 1, -1, 1, 1, 0, 0, 0, 0]
