"""Which keys of a stream of chunks came before: a compact record of the keys an import has seen.

An import reads its file chunk by chunk; a case number repeated in a later chunk is
still a repeat of the earlier row. The keys are kept as two 64-bit hashes (with
different hash keys) plus the row that brought each: 24 bytes a key, whatever the
keys' length (24 MB for a million rows), in sorted runs: a chunk's keys make a run, and
the runs are merged into one when there are more than eight. Two different keys are taken for the same only if both hashes
agree (about 1 in 2**128); a repeat goes unnoticed only if it meets, at the same first
hash, another key of its run stored before it (about 1 in 2**64 per pair of keys).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_HASH_KEYS = ("citymap-seen-001", "citymap-seen-002")


class FirstSeen:
    """The first row of each key over a sequence of chunks.

    Examples
    --------
    >>> seen = FirstSeen()
    >>> seen.first_rows(pd.Series(["a", "b", "a"]), np.array([2, 3, 4])).tolist()
    [-1, -1, 2]
    >>> seen.first_rows(pd.Series(["b", None]), np.array([5, 6])).tolist()
    [3, -1]
    """

    def __init__(self) -> None:
        #: per chunk: first hashes (sorted), second hashes and rows in the same order
        self._runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def __len__(self) -> int:
        return sum(len(rows) for _, _, rows in self._runs)

    def first_rows(self, keys: pd.Series, rows: np.ndarray) -> np.ndarray:
        """For each key, the row that brought it first (this chunk or an earlier one), or -1 if it is its first.

        Parameters
        ----------
        keys : pandas.Series
            The chunk's keys as text; a missing key (None, NaN, <NA>) is never a repeat and is not kept.
        rows : ndarray of int
            Each key's row (any numbering that identifies the row to a person), in the chunk's order.

        Returns
        -------
        ndarray of int64
            The earlier row of each repeated key, -1 elsewhere. The keys first seen here are kept.
        """
        rows = np.asarray(rows, dtype=np.int64)
        if len(keys) != len(rows):
            raise ValueError(f"{len(keys)} keys but {len(rows)} rows")
        out = np.full(len(rows), -1, dtype=np.int64)
        present = keys.notna().to_numpy()
        if not present.any():
            return out
        text = keys[present].astype(str).to_numpy(dtype=object)
        # keys are mostly distinct: hashed one by one, not factorized first
        first, second = (pd.util.hash_array(text, hash_key=key, categorize=False) for key in _HASH_KEYS)
        chunk_rows = rows[present]
        earlier = np.full(len(first), -1, dtype=np.int64)
        for run_first, run_second, run_rows in self._runs:
            at = np.minimum(np.searchsorted(run_first, first), len(run_first) - 1)
            hit = (earlier < 0) & (run_first[at] == first) & (run_second[at] == second)
            earlier[hit] = run_rows[at[hit]]
        # this chunk: a key's first row here, unless an earlier chunk had it
        frame = pd.DataFrame({"a": first, "b": second, "row": chunk_rows})
        first_here = frame.groupby(["a", "b"], sort=False)["row"].transform("first").to_numpy()
        new = (earlier < 0) & (first_here == chunk_rows)
        out[present] = np.where(earlier >= 0, earlier, np.where(first_here != chunk_rows, first_here, -1))
        if new.any():
            self._runs.append((first[new], second[new], chunk_rows[new]))
            # few runs to search: a chunk is looked up in each, so they are merged now and then
            if len(self._runs) == 1 or len(self._runs) > _MAX_RUNS:
                merged = [np.concatenate(parts) for parts in zip(*self._runs)]
                order = np.argsort(merged[0], kind="stable")
                self._runs = [tuple(part[order] for part in merged)]
            else:
                order = np.argsort(self._runs[-1][0], kind="stable")
                self._runs[-1] = tuple(part[order] for part in self._runs[-1])
        return out


#: sorted runs kept before they are merged into one
_MAX_RUNS = 8
