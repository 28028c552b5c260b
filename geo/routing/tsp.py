"""Single-vehicle tours: the core every route planner here shares, and TSPLIB for measuring it.

:func:`solve_tour` finds a short closed tour through every node of a distance matrix,
starting and ending at node 0 (the depot). It runs in two stages:

1. PyVRP (an iterated local search of the hybrid genetic search family) with one
   vehicle and no capacity builds a good tour quickly;
2. an iterated local search of our own polishes it: 2-opt (reversals, whose cost is
   exact on asymmetric matrices through prefix sums of both directions) and Or-opt
   (moving chains of 1-3 stops, forwards or reversed) and, on symmetric matrices,
   Lin–Kernighan-style chains of up to three 2-opt moves, over nearest-neighbour
   candidate lists with a queue of nodes to look at, kicked by double bridges.

PyVRP's operators move and swap stops but never reverse part of a route, which is what
leaves it a percent or more above optimal on instances such as ``a280``; the second
stage supplies exactly that move. The polish is a Python loop over moves — a local
search is sequential by nature — kept cheap by the candidate lists.

TSPLIB parsing (:func:`parse_tsplib`) takes the file's text, so this module does no I/O.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyvrp
from numpy.typing import ArrayLike
from pyvrp.stop import MaxRuntime

from geo.errors import ValidationError

#: share of the time limit given to PyVRP; the rest goes to the polishing search
PYVRP_SHARE = 0.4
#: candidate neighbours per node in the polishing search
N_NEIGHBOURS = 10
#: a kicked tour up to this share longer than the best one is still searched from
ACCEPT_SLACK = 0.002
_OR_OPT_MAX = 3
#: candidates tried at each level of a move chain (its length is the chain's depth)
_CHAIN_BREADTH = (5, 3, 2)


@dataclass(frozen=True)
class TsplibInstance:
    """A TSPLIB EUC_2D instance.

    Attributes
    ----------
    name : str
    xy : numpy.ndarray
        ``(n, 2)`` node coordinates in the file's units.
    """

    name: str
    xy: np.ndarray

    def distances(self) -> np.ndarray:
        """TSPLIB EUC_2D distances: Euclidean, rounded to the nearest integer (``nint``)."""
        diff = self.xy[:, None, :] - self.xy[None, :, :]
        return np.floor(np.hypot(diff[..., 0], diff[..., 1]) + 0.5).astype(np.int64)


def parse_tsplib(text: str, *, source: str = "TSPLIB file") -> TsplibInstance:
    """Parse the text of a TSPLIB ``TYPE: TSP`` file with ``EDGE_WEIGHT_TYPE: EUC_2D``.

    Raises
    ------
    geo.errors.ValidationError
        Another type or weight type, a missing or short ``NODE_COORD_SECTION``, or a
        malformed coordinate line (quoted).
    """
    header: dict[str, str] = {}
    lines = text.splitlines()
    start = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.upper().startswith("NODE_COORD_SECTION"):
            start = i + 1
            break
        if ":" in stripped:
            key, value = stripped.split(":", 1)
            header[key.strip().upper()] = value.strip()
    weight_type = header.get("EDGE_WEIGHT_TYPE", "")
    if header.get("TYPE", "TSP").upper() != "TSP" or weight_type.upper() != "EUC_2D":
        raise ValidationError(
            f"{source}: only TYPE TSP with EDGE_WEIGHT_TYPE EUC_2D is supported, "
            f"found TYPE {header.get('TYPE')!r}, EDGE_WEIGHT_TYPE {weight_type!r}"
        )
    if start is None:
        raise ValidationError(f"{source}: no NODE_COORD_SECTION")
    try:
        dimension = int(header["DIMENSION"])
    except (KeyError, ValueError) as exc:
        raise ValidationError(f"{source}: DIMENSION {header.get('DIMENSION')!r} is not a node count") from exc
    rows = []
    for line in lines[start:start + dimension]:
        parts = line.split()
        if len(parts) != 3:
            raise ValidationError(f"{source}: coordinate line {line!r} is not 'id x y'")
        try:
            rows.append((float(parts[1]), float(parts[2])))
        except ValueError as exc:
            raise ValidationError(f"{source}: coordinate line {line!r} holds a non-number") from exc
    if len(rows) != dimension or dimension < 3:
        raise ValidationError(f"{source}: DIMENSION {dimension} but {len(rows)} coordinate lines (at least 3 needed)")
    return TsplibInstance(name=header.get("NAME", source), xy=np.asarray(rows, dtype=float))


def tour_length(dist: ArrayLike, tour: ArrayLike) -> float:
    """Length of the closed tour ``tour`` (node indices, first node not repeated)."""
    d = np.asarray(dist)
    t = np.asarray(tour, dtype=np.int64)
    return float(d[t, np.roll(t, -1)].sum())


def solve_tour(dist: ArrayLike, *, seed: int = 0, time_limit_s: float = 2.0) -> np.ndarray:
    """A short closed tour through every node, starting at node 0.

    Parameters
    ----------
    dist : array_like
        ``(n, n)`` non-negative distances (any unit; metres on road graphs), possibly
        asymmetric (one-way streets). Non-integer values are rounded to integers for
        PyVRP and used as they are by the polishing search.
    seed : int, keyword-only
        Seeds both stages; the same seed and limit give the same tour on one machine.
    time_limit_s : float, keyword-only
        Wall-clock budget in seconds for both stages together.

    Returns
    -------
    numpy.ndarray
        Node order, ``tour[0] == 0``, each node once; the return to node 0 is implied.
    """
    d = np.asarray(dist, dtype=float)
    if d.ndim != 2 or d.shape[0] != d.shape[1] or d.shape[0] < 1:
        raise ValidationError(f"distance matrix must be square, got shape {d.shape}")
    if not np.isfinite(d).all() or (d < 0).any():
        raise ValidationError("distance matrix must be finite and non-negative")
    if time_limit_s <= 0:
        raise ValidationError(f"time_limit_s {time_limit_s!r} must be positive")
    n = d.shape[0]
    if n <= 3:
        return np.arange(n)
    deadline = time.perf_counter() + time_limit_s
    start = _pyvrp_tour(d, seed=seed, time_limit_s=time_limit_s * PYVRP_SHARE)
    return _Polisher(d, start, seed=seed).run(deadline)


def _pyvrp_tour(d: np.ndarray, *, seed: int, time_limit_s: float) -> np.ndarray:
    n = d.shape[0]
    matrix = np.rint(d).astype(np.int64)
    data = pyvrp.ProblemData(
        [pyvrp.Location(0.0, 0.0) for _ in range(n)],
        [pyvrp.Client(location=i) for i in range(1, n)],
        [pyvrp.Depot(location=0)],
        [pyvrp.VehicleType(1)],
        [matrix],
        [np.zeros_like(matrix)],
    )
    result = pyvrp.solve(data, stop=MaxRuntime(time_limit_s), seed=seed, display=False, collect_stats=False)
    # Client activities count from 0 among clients; the single depot is matrix index 0.
    visits = [a.idx + 1 for a in result.best.routes()[0].schedule() if a.is_client()]
    return np.asarray([0, *visits], dtype=np.int64)


class _Polisher:
    """2-opt + Or-opt iterated local search on one closed tour with node 0 fixed first.

    On a symmetric matrix a move only renumbers the positions it touched; on an
    asymmetric one the prefix sums that price a reversal exactly are rebuilt too.
    """

    def __init__(self, d: np.ndarray, tour: np.ndarray, *, seed: int):
        self.n = d.shape[0]
        self.d = d.tolist()  # nested lists: scalar look-ups are several times faster than on arrays
        self.symmetric = bool(np.array_equal(d, d.T))
        sym = np.minimum(d, d.T)
        np.fill_diagonal(sym, np.inf)
        k = min(N_NEIGHBOURS, self.n - 1)
        self.near = np.argsort(sym, axis=1, kind="stable")[:, :k].tolist()
        self.rng = np.random.default_rng(seed)
        self.tour = [int(v) for v in tour]
        self.pos = [0] * self.n
        self._index(0, self.n - 1)

    def _index(self, lo: int, hi: int) -> None:
        """Renumber positions lo..hi after a move; rebuild the prefix sums if asymmetric."""
        t, d = self.tour, self.d
        for i in range(lo, hi + 1):
            self.pos[t[i]] = i
        if self.symmetric and hasattr(self, "length"):
            return
        nxt = t[1:] + t[:1]
        # fw[i] / bw[i]: length of t[0..i] walked forwards / backwards
        fw = np.cumsum([0.0] + [d[a][b] for a, b in zip(t, nxt)][:-1])
        bw = np.cumsum([0.0] + [d[b][a] for a, b in zip(t, nxt)][:-1])
        self.fw, self.bw = fw.tolist(), bw.tolist()
        self.length = float(fw[-1] + d[t[-1]][t[0]])

    def _inner(self, p: int, q: int) -> float:
        """Extra cost of walking t[p..q] backwards instead of forwards."""
        return 0.0 if self.symmetric else (self.bw[q] - self.bw[p]) - (self.fw[q] - self.fw[p])

    def _try_two_opt(self, v: int) -> list[int] | None:
        t, d, n = self.tour, self.d, self.n
        i = self.pos[v]
        for c in self.near[v]:
            lo, hi = sorted((i, self.pos[c]))
            # Two reversals make v and c adjacent: after both of their successors are
            # cut, or after both of their predecessors are.
            for p, q in ((lo + 1, hi), (lo, hi - 1)):
                if not 1 <= p < q <= n - 1:
                    continue
                a, b, e, f = t[p - 1], t[p], t[q], t[(q + 1) % n]
                gain = d[a][b] + d[e][f] - d[a][e] - d[b][f] - self._inner(p, q)
                if gain > 1e-9:
                    t[p:q + 1] = t[p:q + 1][::-1]
                    self.length -= gain
                    self._index(p, q)
                    return [a, b, e, f]
        return None

    def _reverse_path(self, x: int, y: int) -> tuple[int, int]:
        """Reverse the forward path x → … → y of a symmetric tour; returns the positions flipped.

        When that path runs through position 0 the rest of the cycle is flipped instead,
        which gives the same cycle and keeps node 0 first.
        """
        t, n = self.tour, self.n
        px, py = self.pos[x], self.pos[y]
        p, q = (px, py) if 1 <= px <= py else (py + 1, (px - 1) % n)
        t[p:q + 1] = t[p:q + 1][::-1]
        self._index(p, q)
        return p, q

    def _undo(self, p: int, q: int) -> None:
        self.tour[p:q + 1] = self.tour[p:q + 1][::-1]
        self._index(p, q)

    def _try_chain(self, t1: int) -> list[int] | None:
        """Lin–Kernighan-style chains of up to three 2-opt moves from t1 (symmetric tours)."""
        n = self.n
        for side in (1, -1):
            t2 = self.tour[(self.pos[t1] + side) % n]
            touched = self._chain_step(t1, t2, self.d[t1][t2], 0)
            if touched:
                return touched
        return None

    def _chain_step(self, t1: int, t2: int, gain: float, depth: int) -> list[int] | None:
        t, d, n = self.tour, self.d, self.n
        p2 = self.pos[t2]
        forward = t[(self.pos[t1] + 1) % n] == t2
        for t3 in self.near[t2][:_CHAIN_BREADTH[depth]]:
            g1 = gain - d[t2][t3]
            if g1 <= 1e-9:
                break  # candidates are sorted by distance: the rest gain less
            if t3 == t1 or t3 == t[(p2 + 1) % n] or t3 == t[p2 - 1]:
                continue
            t4 = t[self.pos[t3] - 1] if forward else t[(self.pos[t3] + 1) % n]
            closing = g1 + d[t3][t4] - d[t4][t1]
            flipped = self._reverse_path(t2, t4) if forward else self._reverse_path(t4, t2)
            if closing > 1e-9:
                self.length -= closing
                return [t1, t2, t3, t4]
            if depth + 1 < len(_CHAIN_BREADTH):
                touched = self._chain_step(t1, t4, g1 + d[t3][t4], depth + 1)
                if touched:
                    return [t2, t3, *touched]
            self._undo(*flipped)
        return None

    def _try_or_opt(self, v: int) -> list[int] | None:
        t, d, n = self.tour, self.d, self.n
        i = self.pos[v]
        for size in range(1, _OR_OPT_MAX + 1):
            j = i + size - 1  # the chain is t[i..j]
            if i == 0 or j >= n:
                break
            prev, first, last, after = t[i - 1], t[i], t[j], t[(j + 1) % n]
            cut = d[prev][first] + d[last][after] - d[prev][after]
            flip = self._inner(i, j)
            for c in self.near[first] + self.near[last]:
                k = self.pos[c]
                if i <= k <= j:
                    continue
                for u_pos in (k - 1, k):  # insert between t[u_pos] and t[u_pos + 1]
                    u_pos %= n
                    if i - 1 <= u_pos <= j:
                        continue
                    u, w = t[u_pos], t[(u_pos + 1) % n]
                    base = cut + d[u][w]
                    gain_f = base - d[u][first] - d[last][w]
                    gain_r = base - d[u][last] - d[first][w] - flip
                    if max(gain_f, gain_r) > 1e-9:
                        chain = t[i:j + 1] if gain_f >= gain_r else t[i:j + 1][::-1]
                        if u_pos < i:
                            self.tour = t[:u_pos + 1] + chain + t[u_pos + 1:i] + t[j + 1:]
                            lo, hi = u_pos + 1, j
                        else:
                            self.tour = t[:i] + t[j + 1:u_pos + 1] + chain + t[u_pos + 1:]
                            lo, hi = i, u_pos
                        self.length -= max(gain_f, gain_r)
                        self._index(lo, hi)
                        return [prev, after, u, w, first, last]
        return None

    def _local_search(self, active: list[int]) -> None:
        queue = list(dict.fromkeys(active))
        queued = set(queue)
        while queue:
            v = queue.pop()
            queued.discard(v)
            first = self._try_chain(v) if self.symmetric else self._try_two_opt(v)
            touched = first or self._try_or_opt(v)
            if touched:
                for u in touched + [v]:
                    if u not in queued:
                        queue.append(u)
                        queued.add(u)

    def _kick(self) -> list[int]:
        """A double bridge: two consecutive stretches of the tour swap places."""
        n = self.n
        a, b, c = np.sort(self.rng.choice(np.arange(2, n), 3, replace=False)).tolist()
        t, d = self.tour, self.d
        ends = [t[a - 1], t[a], t[b - 1], t[b], t[c - 1], t[c % n]]
        before = d[t[a - 1]][t[a]] + d[t[b - 1]][t[b]] + d[t[c - 1]][t[c % n]]
        after = d[t[a - 1]][t[b]] + d[t[c - 1]][t[a]] + d[t[b - 1]][t[c % n]]
        self.tour = t[:a] + t[b:c] + t[a:b] + t[c:]
        self.length += after - before
        self._index(a, c - 1)
        return ends

    def _restore(self, tour: list[int], length: float) -> None:
        self.tour = list(tour)
        self.length = length
        self._index(0, self.n - 1)

    def run(self, deadline: float) -> np.ndarray:
        """Kick and repair until the deadline; a kicked tour is kept while it stays within
        :data:`ACCEPT_SLACK` of the best, which lets the search walk off a plateau."""
        self._local_search(list(range(self.n)))
        best, best_length = list(self.tour), self.length
        current, current_length = best, best_length
        while time.perf_counter() < deadline and self.n >= 8:
            self._local_search(self._kick())
            if self.length < best_length - 1e-9:
                best, best_length = list(self.tour), self.length
            if self.length <= current_length + 1e-9 or self.length < best_length * (1 + ACCEPT_SLACK):
                current, current_length = list(self.tour), self.length
            else:
                self._restore(current, current_length)
        return np.asarray(best, dtype=np.int64)
