"""Which keys of a stream of chunks came before: a compact record of the keys an import has seen.

An import reads its file chunk by chunk; a case number repeated in a later chunk is
still a repeat of the earlier row. The keys are kept as two 64-bit hashes (with
different hash keys) plus the row that brought each: 24 bytes a key, whatever the
keys' length, sorted on the first hash. Two different keys are taken for the same
only if both hashes agree (about 1 in 2**128); a repeat goes unnoticed only if it
meets, at the same first hash, another key stored before it (about 1 in 2**64 per
pair of keys).
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
        self._first = np.empty(0, dtype=np.uint64)
        self._second = np.empty(0, dtype=np.uint64)
        self._rows = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._rows)

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
        first, second = (pd.util.hash_array(text, hash_key=key) for key in _HASH_KEYS)
        chunk_rows = rows[present]
        # earlier chunks
        before = np.zeros(len(first), dtype=bool)
        earlier = np.full(len(first), -1, dtype=np.int64)
        if len(self._first):
            at = np.minimum(np.searchsorted(self._first, first), len(self._first) - 1)
            before = (self._first[at] == first) & (self._second[at] == second)
            earlier = np.where(before, self._rows[at], -1)
        # this chunk: a key's first row here, unless an earlier chunk had it
        frame = pd.DataFrame({"a": first, "b": second, "row": chunk_rows})
        first_here = frame.groupby(["a", "b"], sort=False)["row"].transform("first").to_numpy()
        earlier = np.where(before, earlier, np.where(first_here != chunk_rows, first_here, -1))
        out[present] = earlier
        new = ~before & (first_here == chunk_rows)
        self._add(first[new], second[new], chunk_rows[new])
        return out

    def _add(self, first: np.ndarray, second: np.ndarray, rows: np.ndarray) -> None:
        order = np.argsort(first, kind="stable")
        first, second, rows = first[order], second[order], rows[order]
        at = np.searchsorted(self._first, first)
        self._first = np.insert(self._first, at, first)
        self._second = np.insert(self._second, at, second)
        self._rows = np.insert(self._rows, at, rows)
