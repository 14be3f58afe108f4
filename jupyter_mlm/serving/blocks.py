"""Memory the serving process shares with its monitoring writer, for gathered batches' rows.

Without it, a gathered batch (~12 MB of floats at 50,000 rows × 30 columns) is pickled — a copy —
and written through a pipe in 64 KiB system calls, all under the serving process's GIL, then
read and unpickled on the other side. With it, the gatherer's ``np.concatenate`` writes the rows,
predictions and scores once where the writer reads them (no fresh arrays a second in the serving
process, so no page faults for them), and only the block's layout travels through the queue.

Blocks are anonymous memory files (``memfd_create``): nothing in the file system to leak when a
process is killed, sparse (a batch uses the pages it touches), created before the writer starts
and inherited by it. A block is either free (the gatherer may fill it) or with the writer, which
hands it back once it has copied the rows out. Where ``memfd_create`` is missing (not Linux)
there are no blocks, and batches are pickled.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import queue
import threading
from typing import Any, NamedTuple

import numpy as np

BLOCK_BYTES = 20 * 1024 * 1024  # 50,000 rows of 40 float64 columns, a prediction and two scores each
_SLAB_ROWS = 2048


class _Fd:
    """A file descriptor that a spawned process inherits (as multiprocessing passes its own)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> Any:
        from multiprocessing.reduction import DupFd

        return (_inherited, (DupFd(self.fd),))


def _inherited(duplicate: Any) -> _Fd:
    return _Fd(duplicate.detach())


def supported() -> bool:
    return hasattr(os, "memfd_create")


class Layout(NamedTuple):
    """Where a batch lies in a block: ``capacity`` rows × columns float64 values, then one
    prediction per row (``prediction_dtype``, a numpy dtype string), then ``score_width`` float64
    scores per row — of which the first ``rows`` rows hold the batch. A block filled request by
    request is laid out for the rows it can hold, one gathered at once for exactly its rows."""

    number: int
    rows: int
    columns: int
    prediction_dtype: str
    score_width: int
    capacity: int

    @staticmethod
    def bytes_for(rows: int, columns: int, prediction_bytes: int, score_width: int) -> int:
        return rows * (columns * 8 + _padded(prediction_bytes) + score_width * 8)

    def views(self, buffer: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rows, predictions and scores of this layout in ``buffer`` (views, no copies)."""
        matrix, predicted, scored = _regions(buffer, self.capacity, self.columns, np.dtype(self.prediction_dtype),
                                             self.score_width)  # fmt: skip
        return matrix[: self.rows], predicted[: self.rows], scored[: self.rows]


def _regions(
    buffer: Any, capacity: int, columns: int, dtype: np.dtype[Any], score_width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    matrix = np.ndarray((capacity, columns), dtype=np.float64, buffer=buffer)
    offset = matrix.nbytes
    predicted = np.ndarray((capacity,), dtype=dtype, buffer=buffer, offset=offset)
    offset += capacity * _padded(dtype.itemsize)
    if not score_width:
        return matrix, predicted, np.empty((capacity, 0), dtype=np.float64)
    scored = np.ndarray((capacity, score_width), dtype=np.float64, buffer=buffer, offset=offset)
    return matrix, predicted, scored


def _layout(
    number: int, parts: list[np.ndarray], predictions: list[np.ndarray], scores: list[np.ndarray] | None
) -> Layout:
    rows, columns = sum(p.shape[0] for p in parts), parts[0].shape[1]
    return Layout(number, rows, columns, predictions[0].dtype.str, scores[0].shape[1] if scores else 0, rows)


def _padded(itemsize: int) -> int:
    """Bytes a prediction takes in a block: rounded up to 8, so the scores after them stay aligned."""
    return -(-itemsize // 8) * 8


# Predictions that travel in a block: numbers and booleans (labels as objects or strings are
# pickled with the job instead).
SHARED_PREDICTION_KINDS = "biuf"


class Blocks:
    """The serving side: ``count`` blocks of ``size`` bytes, and the queue they come back on."""

    def __init__(self, count: int, context: Any, size: int = BLOCK_BYTES) -> None:
        self.size = size
        self._fds: list[int] = []
        self._maps: list[mmap.mmap] = []
        for number in range(count):
            fd = os.memfd_create(f"mlm-monitor-rows-{number}", os.MFD_CLOEXEC)
            os.ftruncate(fd, size)
            self._fds.append(fd)
            self._maps.append(mmap.mmap(fd, size))
        self._free = list(range(count))
        self._lock = threading.Lock()  # the serving thread and the gatherer both take blocks
        self.returned = context.Queue()

    def handles(self) -> list[_Fd]:
        """What the writer process is started with (``Reader(handles, returned)``)."""
        return [_Fd(fd) for fd in self._fds]

    def take(self, timeout: float) -> int | None:
        """A free block's number, waiting up to ``timeout`` (0: not at all) for the writer to
        hand one back."""
        with self._lock:
            with contextlib.suppress(queue.Empty):
                while True:
                    self._free.append(self.returned.get_nowait())
            if self._free:
                return self._free.pop()
        if timeout <= 0:
            return None
        try:
            number: int = self.returned.get(timeout=timeout)
        except queue.Empty:
            return None
        return number

    def give_back(self, number: int) -> None:
        """A block taken for a batch that was then dropped."""
        with self._lock:
            self._free.append(number)

    @staticmethod
    def rows_for(size: int, columns: int, prediction_bytes: int, score_width: int) -> int:
        """How many rows of this shape a block of ``size`` bytes holds."""
        return size // Layout.bytes_for(1, columns, prediction_bytes, score_width)

    def filling(self, number: int, columns: int, prediction_dtype: np.dtype[Any], score_width: int,
                max_rows: int) -> Filling:  # fmt: skip
        """Block ``number``, to be filled a request at a time with up to ``max_rows`` rows."""
        capacity = min(max_rows, self.rows_for(self.size, columns, prediction_dtype.itemsize, score_width))
        return Filling(number, self._maps[number], columns, prediction_dtype, score_width, capacity)

    def fill(
        self, number: int, parts: list[np.ndarray], predictions: list[np.ndarray], scores: list[np.ndarray] | None
    ) -> Layout:
        """A batch written into block ``number``: its rows (``parts``, float64 matrices with the
        same columns), then its predictions (one numeric dtype), then its scores (float64, one
        width) when it has them. The writer reads them back from the returned layout."""
        layout = _layout(number, parts, predictions, scores)
        matrix, predicted, scored = layout.views(self._maps[number])
        np.concatenate(parts, out=matrix)
        np.concatenate(predictions, out=predicted)
        if scores:
            np.concatenate(scores, out=scored)
        return layout

    def fits(self, parts: list[np.ndarray], predictions: list[np.ndarray], scores: list[np.ndarray] | None) -> bool:
        """Whether ``fill`` can take this batch."""
        layout = _layout(0, parts, predictions, scores)
        itemsize = np.dtype(layout.prediction_dtype).itemsize
        return layout.rows <= self.rows_for(self.size, layout.columns, itemsize, layout.score_width)

    def close(self) -> None:
        for shared in self._maps:
            with contextlib.suppress(BufferError):  # a view still alive: the OS frees it at exit
                shared.close()
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._maps, self._fds = [], []


class Filling:
    """A block filled as requests are answered. Each request's rows, predictions and scores are
    copied in while they are still in the CPU's caches, and its arrays are freed at once, so the
    next request reuses the same warm memory. Gathering them later instead kept a second's
    requests alive, each in fresh memory, then read them all back cold: merely keeping them a
    second cost the serving process 0.35 µs of CPU a row here (6.45 vs 6.10 µs), most of what
    monitoring cost it; copying a 100-row request in takes ~5.5 µs (0.055 µs a row)."""

    def __init__(self, number: int, buffer: Any, columns: int, prediction_dtype: np.dtype[Any], score_width: int,
                 capacity: int) -> None:  # fmt: skip
        self.number = number
        self.capacity = capacity
        self.rows = 0
        self.columns = columns
        self.prediction_dtype = prediction_dtype
        self.score_width = score_width
        self._matrix, self._predicted, self._scored = _regions(buffer, capacity, columns, prediction_dtype,
                                                               score_width)  # fmt: skip

    def takes(self, matrix: np.ndarray, predictions: np.ndarray, scores: np.ndarray | None) -> bool:
        """Whether a request of this shape fits (the caller checked the dtypes ``fillable`` checks)."""
        return (
            self.rows + matrix.shape[0] <= self.capacity
            and matrix.shape[1] == self.columns
            and predictions.dtype == self.prediction_dtype
            and (scores.shape[1] if scores is not None else 0) == self.score_width
        )

    def append(self, matrix: np.ndarray, predictions: np.ndarray, scores: np.ndarray | None) -> None:
        start, end = self.rows, self.rows + matrix.shape[0]
        self._matrix[start:end] = matrix
        self._predicted[start:end] = predictions
        if scores is not None:
            self._scored[start:end] = scores
        self.rows = end

    def seal(self) -> Layout:
        """Where the writer finds the rows; this side writes no more to the block."""
        self._matrix = self._predicted = self._scored = np.empty(0)  # the mapping can close once sent
        return Layout(self.number, self.rows, self.columns, self.prediction_dtype.str, self.score_width,
                      self.capacity)  # fmt: skip


def fillable(matrix: Any, predictions: Any, scores: Any) -> bool:
    """Whether a request's rows can be copied into a block: float64 rows, one number per row
    predicted, float64 scores one row per row (labels as strings, and other rows, are gathered)."""
    return (
        isinstance(matrix, np.ndarray)
        and matrix.ndim == 2
        and matrix.dtype == np.float64
        and isinstance(predictions, np.ndarray)
        and predictions.ndim == 1
        and predictions.dtype.kind in SHARED_PREDICTION_KINDS
        and predictions.shape[0] == matrix.shape[0]
        and (scores is None or _score_rows(scores, matrix.shape[0]))
    )


def _score_rows(scores: Any, rows: int) -> bool:
    return (
        isinstance(scores, np.ndarray) and scores.ndim == 2 and scores.dtype == np.float64 and scores.shape[0] == rows
    )


class Reader:
    """The writer side: the same blocks, mapped; rows copied out, then the block handed back."""

    def __init__(self, handles: list[_Fd], returned: Any) -> None:
        self._maps = [mmap.mmap(handle.fd, 0) for handle in handles]
        for handle in handles:
            os.close(handle.fd)  # the mapping keeps the memory
        self._returned = returned

    def read(self, layout: Layout) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The block's rows as a column-major copy (what the profile's passes read), copies of
        its predictions and scores (None without), and the block handed back."""
        view, predicted, scored = layout.views(self._maps[layout.number])
        try:
            # Transposed a slab at a time: numpy's one-call column-major copy of a tall matrix
            # walks memory 4x slower (5.4 vs 1.2 ms for 50,000 x 30 here), and every byte the
            # writer streams through the shared cache is one the serving process may miss.
            out = np.empty((layout.columns, layout.rows), dtype=np.float64)
            for start in range(0, layout.rows, _SLAB_ROWS):
                out[:, start : start + _SLAB_ROWS] = view[start : start + _SLAB_ROWS].T
            columns_major: np.ndarray = out.T
            return columns_major, predicted.copy(), scored.copy() if layout.score_width else None
        finally:
            del view, predicted, scored
            self._returned.put(layout.number)
