"""Nearest-neighbour search and kNN graphs for the graph family.

Every estimator of :mod:`sklearn_ssl.graph` finds neighbours through one object
with scikit-learn's ``NearestNeighbors`` API (``fit(X)`` then
``kneighbors(X, n_neighbors)`` returning Euclidean distances and indices), made
by :func:`check_neighbors` from the ``neighbors`` parameter, once
:func:`resolve_neighbors` has turned ``"auto"`` into a backend for the data:

``"auto"``
    the default: ``"ivf"`` from ``AUTO_IVF_MIN_SAMPLES`` training rows when
    faiss is installed and ``X`` is a dense array, ``"exact"`` otherwise.
``"exact"``
    scikit-learn's :class:`~sklearn.neighbors.NearestNeighbors`.
``"hnsw"``
    faiss' HNSW graph index, approximate; fast to query, for kNN graphs of
    10^5 rows and more (``pip install sklearn-ssl[ann]``).
``"ivf"``
    inverted file of k-means cells (faiss' clustering), approximate, the
    probed cells scanned by matrix products in single precision; cheap to
    build over 10^6 rows. Exact (a flat scan) over fewer than 4096 rows.
``"nndescent"``
    pynndescent's NN-descent, approximate (``pip install pynndescent``); it
    compiles with numba on first use, which takes a minute or more.
an estimator
    any unfitted object with ``fit`` and ``kneighbors``; it is cloned.

Queries run in blocks of ``batch_size`` rows, dispatched with joblib, so memory
stays bounded and a joblib backend (threads, processes, dask) spreads them.
"""

import numbers
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from functools import lru_cache

import numpy as np
from joblib import Parallel, delayed
from scipy import sparse
from sklearn.base import clone
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_random_state
from threadpoolctl import OpenBLASController, ThreadpoolController

NEIGHBORS_BACKENDS = ("exact", "hnsw", "ivf", "nndescent")
# The string values of the estimators' ``neighbors`` parameter.
NEIGHBORS_OPTIONS = ("auto", *NEIGHBORS_BACKENDS)

# Rows per block when batch_size is None: 4096 query rows against 10^4
# reference rows is ~330 MB of float64 distances inside scikit-learn at worst.
DEFAULT_BATCH_SIZE = 4096
# Rows per block with the faiss backends when batch_size is None: their results
# hold k neighbours per row (memory O(rows k)), and larger blocks save a dispatch
# and a synchronisation each, and give each cell more queries per product.
FAISS_BATCH_SIZE = 32768


def _import_optional(module, extra):
    try:
        return __import__(module)
    except ImportError as exc:
        raise ImportError(
            f"This option needs the optional dependency {module!r}, which is not "
            f"installed. Install it with: pip install 'sklearn-ssl[{extra}]'."
        ) from exc


def _faiss_installed():
    """Whether faiss can be imported (``pip install 'sklearn-ssl[ann]'``)."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def _is_dask_collection(X):
    return type(X).__module__.split(".")[0] == "dask" or hasattr(X, "__dask_graph__")


# Training rows from which neighbors="auto" searches with "ivf" (faiss) rather than
# "exact", per kind of estimator (benchmarks/README.md, "neighbors='auto'", has the
# measurements). The exact kNN graph costs O(N^2); LocalLabelPropagation's exact
# search only O(N M) for M labelled rows, so "ivf" pays off later there. "ivf" is
# approximate, and its cost in accuracy decides how early to switch:
AUTO_IVF_MIN_SAMPLES = {
    # LabelPropagation, LabelSpreading: "ivf"'s graph costs some accuracy at every
    # size measured, so switch only where the exact graph has become slow and "ivf"
    # is an order of magnitude faster.
    "knn_graph": 50_000,
    # LocalLabelPropagation: "ivf" costs almost no accuracy here, but saves little
    # time below this size.
    "local": 100_000,
}


def resolve_neighbors(neighbors, X, kind):
    """The ``neighbors`` a fit on ``X`` uses: ``"auto"`` made a backend, else as given.

    As scikit-learn's ``NearestNeighbors(algorithm="auto")``, the choice is made
    once per fit, from the training data: ``"exact"`` for sparse ``X`` (the
    faiss backends take dense rows), for a dask array (only the exact search
    runs on dask's workers) and when faiss is not installed; otherwise
    ``"ivf"`` from ``AUTO_IVF_MIN_SAMPLES[kind]`` rows, ``"exact"`` below.

    Parameters
    ----------
    neighbors : {"auto", "exact", "hnsw", "ivf", "nndescent"} or estimator
        The estimator's ``neighbors`` parameter.
    X : {ndarray, sparse matrix} or dask array of shape (n_samples, n_features)
        The training rows.
    kind : {"knn_graph", "local"}
        Which threshold of ``AUTO_IVF_MIN_SAMPLES`` applies.

    Returns
    -------
    neighbors : {"exact", "hnsw", "ivf", "nndescent"} or estimator
    """
    if not (isinstance(neighbors, str) and neighbors == "auto"):
        return neighbors
    if sparse.issparse(X) or _is_dask_collection(X):
        return "exact"
    # faiss is imported only for data large enough to use it.
    if X.shape[0] >= AUTO_IVF_MIN_SAMPLES[kind] and _faiss_installed():
        return "ivf"
    return "exact"


def _float32_frame(X):
    """Shift (the rows' mean) and power-of-two scale for :func:`_centred_float32`.

    The scale brings the centred coordinates to about 1, read in float64: data
    in units of 1e300 would overflow float32 and data in units of 1e-300 vanish
    in it before any later scaling, and float32 squares (the scans' products)
    overflow above 1.8e19. A power of two: the scaling itself rounds nothing.
    """
    X = np.asarray(X)
    if not X.shape[0]:
        return np.zeros(X.shape[1]), 1.0
    shift = X.mean(axis=0, dtype=np.float64)
    reach = np.maximum(X.max(axis=0) - shift, shift - X.min(axis=0)).max()
    scale = 2.0 ** round(np.log2(reach)) if 0 < reach < np.inf else 1.0
    return shift, scale


def _centred_float32(X, shift, scale=1.0):
    """``(X - shift) / scale`` as contiguous float32, computed in float64.

    The approximate backends search in float32, whose resolution at 1e7 is 1: rows
    centred on their training mean keep their distances (a translation changes
    none) and the digits that tell neighbours apart.
    """
    X = np.asarray(X)
    out = np.empty(X.shape, dtype=np.float32)
    shift = np.asarray(shift, dtype=np.float64)
    if 1e-30 < scale < 1e30:
        # Computed in float64 and cast in numpy's small buffers: no float64 copy of
        # X (which cost 0.4 s and 0.13 GB more at a million rows); the centred
        # values fit float32, and a power-of-two scale rounds nothing there.
        np.subtract(X, shift, out=out, casting="same_kind")
        if scale != 1.0:
            out *= np.float32(1.0 / scale)
    else:  # float32 would overflow or vanish before the scaling: scale in float64
        for start in range(0, X.shape[0], 65536):
            block = np.subtract(X[start : start + 65536], shift, dtype=np.float64)
            block *= 1.0 / scale
            out[start : start + 65536] = block
    return out


class _FaissHNSW:
    """Approximate neighbours from a faiss HNSW index (Euclidean)."""

    def __init__(self, n_links=16, ef_construction=40, ef_search=64):
        self.n_links = n_links
        self.ef_construction = ef_construction
        self.ef_search = ef_search

    def fit(self, X):
        faiss = _import_optional("faiss", "ann")
        self.shift_, self.scale_ = _float32_frame(X)
        X = _centred_float32(X, self.shift_, self.scale_)
        self.index_ = faiss.IndexHNSWFlat(X.shape[1], self.n_links)
        self.index_.hnsw.efConstruction = self.ef_construction
        self.index_.add(X)
        self.n_samples_fit_ = X.shape[0]
        return self

    def kneighbors(self, X, n_neighbors):
        faiss = _import_optional("faiss", "ann")
        self.index_.hnsw.efSearch = max(self.ef_search, 2 * n_neighbors)
        X = _centred_float32(X, self.shift_, self.scale_)
        dist2, ind = self.index_.search(X, n_neighbors)
        # Rows the graph search left short (many duplicates, say): a wider graph
        # search, then an exact one of the same vectors (the index's flat storage)
        # for the rows still short (both built only when a row is short).
        ef_wider = 8 * self.index_.hnsw.efSearch

        def wider_search(Q, k):
            wider = faiss.SearchParametersHNSW(efSearch=ef_wider)
            return self.index_.search(Q, k, params=wider)

        def exact_search(Q, k):
            return faiss.downcast_index(self.index_.storage).search(Q, k)

        dist, ind = _clean_faiss_result(
            *_complete(dist2, ind, X, n_neighbors, wider_search, exact_search)
        )
        return dist * self.scale_, ind


@lru_cache(maxsize=1)
def _blas_controller():
    # The BLAS libraries that NumPy's products may use; not the one bundled in
    # faiss' wheels (unused here): it is threaded with OpenMP, and limiting it
    # would change the calling thread's OpenMP setting, which faiss reads.
    blas = ThreadpoolController().select(user_api="blas")
    paths = [c.filepath for c in blas.lib_controllers if "faiss" not in c.filepath]
    return blas.select(filepath=paths)


_blas_lock = threading.Lock()
_blas_state = {"users": 0, "limiter": None}


def _release_openblas_control():
    # threadpoolctl >= 3.6 lets one "controlling" thread set a pthreads OpenBLAS'
    # thread count and silently ignores the others, and hands control back only
    # in its ``with`` form. Our limit is entered and lifted by whichever threads
    # come first and last (under _blas_lock): clear the controller around each
    # change so that it takes effect. Older threadpoolctl has no such state.
    clear = getattr(OpenBLASController, "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)


@contextmanager
def _one_blas_thread():
    """BLAS limited to one thread while any caller is inside (reference-counted).

    Process-wide, as scikit-learn's KMeans does around its OpenMP loops; the count
    lets concurrent callers (joblib threads) nest without restoring the limit early.
    """
    with _blas_lock:
        if _blas_state["users"] == 0:
            _release_openblas_control()
            _blas_state["limiter"] = _blas_controller().limit(limits=1)
            _release_openblas_control()
        _blas_state["users"] += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_state["users"] -= 1
            if _blas_state["users"] == 0:
                _release_openblas_control()
                _blas_state["limiter"].restore_original_limits()
                _release_openblas_control()


_scan_pool_lock = threading.Lock()
_scan_pool = {"executor": None, "workers": 0}


def _scan_executor(n_workers):
    """A thread pool kept between searches (starting threads cost ~1 ms each per call).

    One worker per core (or more if asked), shared by all callers, so that two
    callers searching at once run side by side. Its threads are private to
    _InnerProductScan, so the one-thread OpenMP setting they make stays with them.
    A pool outgrown is replaced, not shut down (another caller may be submitting
    to it; its idle threads end when it is collected).
    """
    with _scan_pool_lock:
        if _scan_pool["workers"] < n_workers:
            workers = max(n_workers, os.cpu_count() or 1)
            executor = ThreadPoolExecutor(workers, thread_name_prefix="sklearn_ssl_scan")
            _scan_pool.update(executor=executor, workers=workers)
        return _scan_pool["executor"]


def _reset_after_fork():
    # A child forked during a search must not inherit a held lock, a count of
    # users that will never return, or a pool whose threads did not survive.
    global _blas_lock, _scan_pool_lock
    _blas_lock = threading.Lock()
    _blas_state.update(users=0, limiter=None)
    _scan_pool_lock = threading.Lock()
    _scan_pool.update(executor=None, workers=0)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


# Query rows per matrix product in _InnerProductScan: 256 x 2,000 float32 scores
# (2 MB) stay in cache while the heap reads them; 64-1024 rows were within 5%.
_SCAN_BLOCK = 256
# Columns per group of _InnerProductScan's threshold (see _scan); 4-16 were
# within 5% of each other, the plain scan 13% slower.
_SCAN_GROUP = 8


class _InnerProductScan:
    """Exact top-``k`` inner products, with faiss' ``IndexFlatIP.search`` interface.

    faiss' flat scan multiplies with the OpenBLAS its wheels bundle, which on this
    machine ran its AVX2 kernels where NumPy's BLAS uses AVX-512: the product
    of 198,000 x 34 by 34 x 2,000 took 0.17 s in NumPy. Here each worker thread
    takes a share of the queries, multiplies blocks of ``_SCAN_BLOCK`` rows with
    NumPy (BLAS limited to one thread) and keeps the ``k`` best of each row in
    faiss' heaps (one OpenMP thread), so BLAS and OpenMP threads never compete
    for the cores. LocalLabelPropagation's vote search at 200,000 rows (198,000
    queries against 2,000 rows, top 10) took 0.52 s against faiss' 0.63 s (medians
    of 8 alternating runs; benchmarks/README.md).

    Each heap starts at a threshold rather than empty (see ``_scan``), so it
    takes in about ``k`` scores per row instead of ``k log(n / k)``: the
    selection took 0.11 s instead of 0.14 s for 60,000 queries on one core.
    """

    def __init__(self, X):
        X = np.asarray(X, dtype=np.float32)
        self.ntotal = X.shape[0]
        self.n_groups_ = -(-self.ntotal // _SCAN_GROUP)
        # Pad to whole groups with zero rows; their scores are set to -inf.
        self.xb_ = np.zeros((self.n_groups_ * _SCAN_GROUP, X.shape[1]), dtype=np.float32)
        self.xb_[: self.ntotal] = X

    def _scan(self, X, scores_out, ids_out, next_block):
        """Search the blocks of ``X`` that ``next_block()`` hands out until it returns None."""
        faiss = _import_optional("faiss", "ann")
        # This pool thread's OpenMP team size (libgomp keeps it per thread): one,
        # so the heap does not wake threads that the other workers' cores run.
        faiss.omp_set_num_threads(1)
        k = scores_out.shape[1]
        n_groups = self.n_groups_
        # With few groups the threshold would cost more than it saves.
        threshold = 0 < k and 2 * k < n_groups
        xb_t = self.xb_.T if threshold else self.xb_[: self.ntotal].T
        scores = np.empty((min(_SCAN_BLOCK, X.shape[0]), xb_t.shape[1]), dtype=np.float32)
        heaps = faiss.float_minheap_array_t()
        heaps.k = k
        while (start := next_block()) is not None:
            stop = min(start + _SCAN_BLOCK, X.shape[0])
            block = scores[: stop - start]
            np.matmul(X[start:stop], xb_t, out=block)
            heaps.nh = stop - start
            heaps.val = faiss.swig_ptr(scores_out[start:stop])
            heaps.ids = faiss.swig_ptr(ids_out[start:stop])
            if threshold:
                # Column c is in group c mod n_groups. The k-th largest group
                # maximum is at most the k-th largest score (k groups, k distinct
                # scores at least that high), and only the groups above it hold
                # scores above it. A heap filled with (just under) that value is
                # a valid heap that keeps the same top k, up to the order of ties,
                # but takes in ~k scores per row, not k log(n / k): an insertion
                # costs a missed branch and a sift, a rejected score a comparison.
                block[:, self.ntotal :] = -np.inf  # the padding never ranks
                top = block.reshape(stop - start, _SCAN_GROUP, n_groups).max(axis=1)
                floor = np.sort(top, axis=1)[:, n_groups - k]
                scores_out[start:stop] = np.nextafter(floor, -np.inf)[:, None]
                ids_out[start:stop] = -1
            else:
                heaps.heapify()
            heaps.addn(xb_t.shape[1], faiss.swig_ptr(block))
            heaps.reorder()

    def search(self, X, k):
        faiss = _import_optional("faiss", "ann")
        X = np.ascontiguousarray(X, dtype=np.float32)
        n = X.shape[0]
        scores = np.empty((n, k), dtype=np.float32)
        ids = np.empty((n, k), dtype=np.int64)
        # As many workers as faiss would use (OMP_NUM_THREADS, faiss.omp_set_num_threads).
        n_workers = max(1, min(faiss.omp_get_max_threads(), -(-n // _SCAN_BLOCK)))
        # Each worker takes the next block when it is done with one, rather than
        # a fixed share: a core slowed by other work then holds up the search by
        # one block, not by the rest of its share.
        _run_in_workers(
            lambda next_block: self._scan(X, scores, ids, next_block),
            range(0, n, _SCAN_BLOCK),
            n_workers,
        )
        return scores, ids


# Rows of a cell per matrix product in _CellScan (bounds a product's memory when
# k-means leaves a large cell), and queries per product.
_CELL_ROWS = 4096
_CELL_QUERIES = 1024
# Queries per cell that _CellScan aims for in a chunk of queries.
_CELL_MEETS = 128


def _run_in_workers(work, starts, n_workers):
    """Run ``work(next_start)`` in up to ``n_workers`` scan threads, BLAS held to one.

    ``next_start()`` hands out the items of ``starts`` one at a time (then None),
    so a worker slowed by other load does fewer of them.
    """
    starts = iter(starts)
    n_workers = max(1, n_workers)
    lock = threading.Lock()

    def next_start():
        with lock:
            return next(starts, None)

    pool = _scan_executor(n_workers)
    with _one_blas_thread():
        futures = [pool.submit(work, next_start) for _ in range(n_workers)]
        # Every worker done (the others finish the blocks) before an error is
        # raised, so none still runs once the BLAS limit is lifted.
        wait(futures)
    for future in futures:
        future.result()


class _CellScan:
    """Inverted file whose probed cells are scanned by matrix products.

    The rows are sorted by k-means cell and kept in single precision with one
    more column, ``-|x|^2 / 2``; a query ``[q, 1]`` then scores ``q.x - |x|^2 / 2``,
    which ranks rows like ``-|q - x|^2``. Worker threads take chunks of queries in
    turn; within a chunk the queries are grouped by the cells they probe, so each
    cell is one NumPy product with all the queries that probe it, and faiss' heaps
    keep the ``k`` best of each query (``addn_query_subset_with_ids``). faiss'
    own inverted-file scan compares one query with one row at a time (about
    4.4 ns a pair in half precision here); the products cost 0.8 ns.

    ``search`` has faiss' interface: squared distances and ids, ``-1`` where the
    probed cells hold fewer than ``k`` rows.
    """

    def __init__(self, quantizer, X, nprobe):
        self.quantizer = quantizer
        self.nlist = quantizer.ntotal
        self.nprobe = nprobe
        self.ntotal = X.shape[0]
        # The rows' cells as the queries' probes are found (one nearest centroid).
        assign = quantizer.search(X, 1)[1].ravel()
        # Cell numbers in 16 bits sort by radix (1 ms for 198,000 rows, 8 ms in 64).
        cells = assign.astype(np.uint16 if self.nlist < 2**16 else np.int32)
        order = np.argsort(cells, kind="stable")
        self.bounds_ = np.searchsorted(assign[order], np.arange(self.nlist + 1))
        self.ids_ = order.astype(np.int64)
        self.rows_ = np.empty((X.shape[0], X.shape[1] + 1), dtype=np.float32)
        np.take(X, order, axis=0, out=self.rows_[:, :-1])
        self.rows_[:, -1] = -0.5 * np.einsum("ij,ij->i", self.rows_[:, :-1], self.rows_[:, :-1])

    def _scan(self, Q, probes, k, dist_out, ids_out, next_chunk, chunk):
        faiss = _import_optional("faiss", "ann")
        faiss.omp_set_num_threads(1)  # this pool thread's OpenMP setting (see _InnerProductScan)
        heaps = faiss.float_minheap_array_t()
        heaps.k = k
        n_probe = probes.shape[1]
        while (start := next_chunk()) is not None:
            stop = min(start + chunk, Q.shape[0])
            n = stop - start
            query = np.ones((n, Q.shape[1] + 1), dtype=np.float32)
            query[:, :-1] = Q[start:stop]
            scores = np.full((n, k), -np.inf, dtype=np.float32)
            ids = np.full((n, k), -1, dtype=np.int64)
            heaps.nh = n
            heaps.val = faiss.swig_ptr(scores)
            heaps.ids = faiss.swig_ptr(ids)
            cells = probes[start:stop].ravel()
            by_cell = np.argsort(cells, kind="stable")
            askers = by_cell // n_probe  # the query (row of the chunk) of each pair
            cells = cells[by_cell]
            edges = np.flatnonzero(np.diff(cells)) + 1
            for a, b in zip(np.r_[0, edges], np.r_[edges, cells.size]):
                cell = cells[a]
                if cell < 0:  # faiss' -1: fewer cells than probes
                    continue
                lo, hi = self.bounds_[cell], self.bounds_[cell + 1]
                for qa in range(a, b, _CELL_QUERIES):
                    who = askers[qa : min(qa + _CELL_QUERIES, b)]
                    sub = query[who]
                    for r in range(lo, hi, _CELL_ROWS):
                        rows = self.rows_[r : min(r + _CELL_ROWS, hi)]
                        block = sub @ rows.T
                        heaps.addn_query_subset_with_ids(
                            who.size,
                            faiss.swig_ptr(who),
                            rows.shape[0],
                            faiss.swig_ptr(block),
                            faiss.swig_ptr(self.ids_[r:]),
                            0,
                        )
            heaps.reorder()
            # |q - x|^2 = |q|^2 - 2 (q.x - |x|^2 / 2); none found: inf, as faiss gives
            # (its heaps leave -FLT_MAX there, which doubled would overflow).
            found = ids >= 0
            sq = np.einsum("ij,ij->i", query[:, :-1], query[:, :-1])
            dist = sq[:, None] - 2.0 * np.where(found, scores, 0.0)
            dist[~found] = np.inf
            dist_out[start:stop] = dist
            ids_out[start:stop] = ids

    def search(self, Q, k, nprobe=None):
        faiss = _import_optional("faiss", "ann")
        Q = np.ascontiguousarray(Q, dtype=np.float32)
        nprobe = min(self.nlist, nprobe or self.nprobe)
        _, probes = self.quantizer.search(Q, nprobe)
        n = Q.shape[0]
        dist = np.empty((n, k), dtype=np.float32)
        ids = np.empty((n, k), dtype=np.int64)
        n_workers = max(1, min(faiss.omp_get_max_threads(), n))
        # Chunks big enough that a cell meets ~_CELL_MEETS of their queries at
        # once, and at least one per worker.
        chunk = max(256, -(-_CELL_MEETS * self.nlist // nprobe))
        chunk = max(1, min(chunk, -(-n // n_workers)))
        _run_in_workers(
            lambda next_chunk: self._scan(Q, probes, k, dist, ids, next_chunk, chunk),
            range(0, n, chunk),
            n_workers,
        )
        return dist, ids


# An inverted file over fewer rows than this is replaced by an exact flat scan:
# measured on 2 cores, 200k queries against 2000 rows of 34 dimensions take
# 1.1 s flat (exact) and 1.3 s with 44 cells, 8 probed (recall 0.93).
_FLAT_BELOW = 4096


class _FaissIVF:
    """Approximate neighbours from an inverted file of k-means cells (Euclidean).

    ``n_lists`` k-means cells (faiss' clustering; default ``sqrt(n)``), of which
    the ``n_probe`` (default 8) nearest are scanned per query. Given ``n_queries``
    (how many rows will be searched for), the default is ``sqrt(n_probe *
    n_queries)`` when that is smaller: assigning the rows to cells costs ``n *
    n_lists`` and scanning ``n_queries * n_probe * n / n_lists``, so few queries
    call for fewer, larger cells. LocalLabelPropagation's density search (2000
    labelled rows against 198,000 unlabelled ones) then builds and searches in
    0.29 s instead of 0.43 s (one thread, on a loaded machine; 0.15 s in an idle
    2-core fit) and finds 93% of the true 25 nearest instead of 85%.

    The cells are scanned by matrix products (:class:`_CellScan`), in single
    precision on rows centred on their mean (an offset of 1e7 would otherwise
    leave float32 a resolution of 1) and scaled by a power of two to coordinates
    of about 1 (float32 squares overflow above 1.8e19). faiss' own inverted file
    with rows in half precision, which this replaced, scanned a cell one pair at
    a time: at 200,000 rows the kNN graph's search took 2.0 s there and 1.4 s
    here, the density search 0.054 s and 0.038 s, with the same recall.
    Below ``_FLAT_BELOW`` rows (and without an explicit ``n_lists``) the search is
    exact: a flat scan costs less there than cells.
    """

    def __init__(self, n_lists=None, n_probe=None, n_queries=None, random_state=None):
        self.n_lists = n_lists
        self.n_probe = n_probe
        self.n_queries = n_queries
        self.random_state = random_state

    def _prepare(self, X):
        if self.shift_ is None:  # rows of one norm, searched by inner product
            return np.ascontiguousarray(X, dtype=np.float32)
        return _centred_float32(X, self.shift_, self.scale_)

    def fit(self, X):
        faiss = _import_optional("faiss", "ann")
        X = np.asarray(X)
        if X.dtype.kind != "f":
            X = X.astype(np.float64)
        n = X.shape[0]
        self.n_samples_fit_ = n
        flat = self.n_lists is None and n < _FLAT_BELOW
        self.norm2_ = None
        self.shift_, self.scale_ = _float32_frame(X)
        if flat:
            # Squares of rows near 1e155 overflow: inf and nan then fail the test
            # below, and such rows take the Euclidean scan (scaled, float32-safe).
            with np.errstate(over="ignore", invalid="ignore"):
                sq = np.einsum("ij,ij->i", X, X, dtype=np.float64)
                # Mean squared distance of the rows to their mean: the scale of the
                # distances that rank neighbours (few rows: a float64 copy is cheap).
                spread = float(np.square(X - self.shift_).sum(axis=1).mean()) if n else 0.0
                one_norm = np.ptp(sq) <= 1e-6 * spread and sq.mean() <= 1e2 * spread
            if spread > 0 and one_norm:
                # Rows of one norm (unit rows; LocalLabelPropagation's augmented
                # vectors): |q - x|^2 = |q|^2 + c - 2 q.x ranks like -q.x, and an
                # inner-product scan skips the norm arithmetic (faiss' took 0.48 s against
                # 0.54 s for 198,000 queries against 2,000 rows; _InnerProductScan is
                # faster still). The norms must agree to a
                # millionth of the distances' scale, not of the norms (rows offset by
                # 1e7 have nearly equal norms and are not on a sphere), and the norms
                # must not dwarf the distances: the float32 inner products resolve
                # about 6e-8 of |x|^2, too coarse for unit rows bunched in one direction.
                # Not centred: centring would give the rows different norms.
                self.norm2_ = float(sq.mean())
                self.shift_, self.scale_ = None, 1.0
                self.index_ = _InnerProductScan(self._prepare(X))
            else:
                self.index_ = faiss.IndexFlatL2(X.shape[1])
                self.index_.add(self._prepare(X))
            return self
        X = self._prepare(X)
        d = X.shape[1]
        n_probe = self.n_probe or 8
        n_lists = self.n_lists
        if not n_lists:
            n_lists = np.sqrt(n)
            if self.n_queries is not None:
                n_lists = min(n_lists, np.sqrt(n_probe * self.n_queries))
            n_lists = int(np.clip(n_lists, 1, max(1, n // 40)))
        rng = check_random_state(self.random_state)
        clustering = faiss.Clustering(d, n_lists)
        clustering.seed = int(rng.randint(np.iinfo(np.int32).max))
        clustering.niter = 10
        # k-means on at most 64 rows per cell is plenty for coarse cells.
        n_train = min(n, 64 * n_lists)
        train = X[rng.choice(n, n_train, replace=False)] if n_train < n else X
        quantizer = faiss.IndexFlatL2(d)
        clustering.train(np.ascontiguousarray(train), quantizer)
        self.index_ = _CellScan(quantizer, X, min(n_lists, n_probe))
        return self

    def kneighbors(self, X, n_neighbors):
        X = self._prepare(X)
        dist2, ind = self.index_.search(X, n_neighbors)
        if isinstance(self.index_, _CellScan):
            # Rows whose probed cells held fewer than k rows (isolated outliers):
            # 8 times as many cells, then every cell, for those rows only.
            nlist, nprobe = self.index_.nlist, self.index_.nprobe
            searches = [
                lambda Q, k, probe=probe: self.index_.search(Q, k, probe)
                for probe in sorted({min(nlist, 8 * nprobe), nlist})
            ]
            dist2, ind = _complete(dist2, ind, X, n_neighbors, *searches)
        if self.norm2_ is not None:  # inner products -> squared distances
            dist2 = np.einsum("ij,ij->i", X, X)[:, None] + (self.norm2_ - 2.0 * dist2)
        dist, ind = _clean_faiss_result(dist2, ind)
        if self.scale_ != 1.0:
            dist *= self.scale_
        return dist, ind


def _complete(dist2, ind, X, k, *searches):
    """Search again the rows for which faiss found fewer than ``k``.

    ``searches`` go from cheap to exhaustive; each takes the rows still short, so
    an exhaustive scan (O(rows x n)) is left for the few that need it.
    """
    for search in searches:
        short = np.flatnonzero((ind < 0).any(axis=1))
        if not short.size:
            break
        dist2, ind = dist2.copy(), ind.copy()
        dist2[short], ind[short] = search(np.ascontiguousarray(X[short]), k)
    return dist2, ind


def _clean_faiss_result(dist2, ind):
    # faiss returns squared L2 distances and -1 where it found fewer than k (only
    # when the index holds fewer than k rows, after _complete).
    missing = ind < 0
    if missing.any():
        ind = np.where(missing, ind[:, :1], ind)
        dist2 = np.where(missing, dist2[:, :1], dist2)
    return np.sqrt(np.maximum(dist2, 0.0)).astype(np.float64), ind.astype(np.intp)


class _NNDescent:
    """Approximate neighbours from pynndescent's NN-descent (Euclidean)."""

    def __init__(self, n_neighbors=30, random_state=None, n_jobs=None):
        self.n_neighbors = n_neighbors
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X):
        pynndescent = _import_optional("pynndescent", "ann")
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        self.shift_, self.scale_ = _float32_frame(X)
        self.index_ = pynndescent.NNDescent(
            _centred_float32(X, self.shift_, self.scale_),
            n_neighbors=self.n_neighbors,
            random_state=int(seed),
            n_jobs=self.n_jobs or 1,
        )
        self.n_samples_fit_ = X.shape[0]
        return self

    def kneighbors(self, X, n_neighbors):
        ind, dist = self.index_.query(_centred_float32(X, self.shift_, self.scale_), k=n_neighbors)
        return dist.astype(np.float64) * self.scale_, ind.astype(np.intp)


def check_neighbors(neighbors, *, n_jobs=None, random_state=None, n_queries=None):
    """Turn the ``neighbors`` parameter into an unfitted neighbours object.

    Parameters
    ----------
    neighbors : {"exact", "hnsw", "ivf", "nndescent"} or estimator
        The backend (see the module docstring), or an object with ``fit`` and
        ``kneighbors`` following :class:`~sklearn.neighbors.NearestNeighbors`;
        ``"auto"`` must have been resolved by :func:`resolve_neighbors`.
    n_jobs : int, default=None
        Threads for the exact backend.
    random_state : int, RandomState instance or None
        Seeds the randomised backends.
    n_queries : int, default=None
        How many rows will be searched for, when far fewer than the rows fitted
        (sizes the cells of ``"ivf"``; see ``_FaissIVF``).

    Returns
    -------
    index : object
        Unfitted object with ``fit(X)`` and ``kneighbors(X, n_neighbors)``.
    """
    if isinstance(neighbors, str):
        if neighbors == "exact":
            return NearestNeighbors(algorithm="brute", n_jobs=n_jobs)
        if neighbors == "hnsw":
            return _FaissHNSW()
        if neighbors == "ivf":
            return _FaissIVF(n_queries=n_queries, random_state=random_state)
        if neighbors == "nndescent":
            return _NNDescent(random_state=random_state, n_jobs=n_jobs)
        if neighbors == "auto":
            raise ValueError(
                "neighbors='auto' depends on the training data; pass it through "
                "resolve_neighbors(neighbors, X, kind) first."
            )
        raise ValueError(
            f"neighbors={neighbors!r} is not a known backend; use one of "
            f"{NEIGHBORS_BACKENDS} or an object with fit and kneighbors methods."
        )
    # safe=False: an object without get_params (a wrapper around another
    # library) is deep-copied instead of refused.
    return clone(neighbors, safe=False)


def _kneighbors(index, X, n_neighbors):
    if isinstance(index, NearestNeighbors):
        return index.kneighbors(X, n_neighbors, return_distance=True)
    return index.kneighbors(X, n_neighbors)


def _multiprocessing_active(n_jobs):
    """Whether joblib's "multiprocessing" backend is active, and would fork for ``n_jobs``."""
    try:
        from joblib._parallel_backends import MultiprocessingBackend
        from joblib.parallel import get_active_backend
    except ImportError:  # a joblib that moved them: nothing to detect
        return False, False
    backend, default_n_jobs = get_active_backend()
    if not isinstance(backend, MultiprocessingBackend):
        return False, False
    n_jobs = default_n_jobs if n_jobs is None else n_jobs
    return True, n_jobs not in (None, 1)


def block_parallel(n_jobs, estimator_name, **kwargs):
    """``joblib.Parallel`` for blocks of rows: threads unless a backend is active.

    Any active joblib backend is used (dask, loky, threading), except
    "multiprocessing": on Linux it forks the process, and a child that enters an
    OpenMP region (scikit-learn's neighbour search, faiss) after the parent has
    run one hangs forever (GNU OpenMP is not fork-safe). Those blocks run in
    threads instead, with a warning; the results are the same.
    """
    active, forks = _multiprocessing_active(n_jobs)
    if forks:
        warnings.warn(
            f"{estimator_name} runs its blocks of rows in threads, not in the active "
            "'multiprocessing' joblib backend: forked processes hang in OpenMP code "
            "(neighbour search) that the parent process has run. Use the 'loky' "
            "backend (joblib's default) for processes, or 'threading'.",
            UserWarning,
        )
    if active:  # also with one job: that backend cannot stream results (return_as)
        kwargs.pop("prefer", None)
        return Parallel(n_jobs=n_jobs, backend="threading", **kwargs)
    return Parallel(n_jobs=n_jobs, **kwargs)


def _is_faiss(neighbors):
    """Whether ``neighbors`` names a faiss backend (``"ivf"``, ``"hnsw"``)."""
    # isinstance first: ``in`` would call a neighbours object's __eq__.
    return isinstance(neighbors, str) and neighbors in ("ivf", "hnsw")


def _row_blocks(n_rows, batch_size, faiss=False):
    if batch_size is None:
        batch_size = FAISS_BATCH_SIZE if faiss else DEFAULT_BATCH_SIZE
    return [slice(start, min(start + batch_size, n_rows)) for start in range(0, n_rows, batch_size)]


def kneighbors_blocked(
    index,
    X,
    n_neighbors,
    *,
    batch_size=None,
    n_jobs=None,
    exclude_self=False,
    estimator_name="The neighbour search",
):
    """Query a fitted ``index`` with the rows of ``X`` in blocks of bounded memory.

    Parameters
    ----------
    index : fitted neighbours object
    X : ndarray of shape (n_queries, n_features)
    n_neighbors : int
    batch_size : int, default=None
        Rows per block (``DEFAULT_BATCH_SIZE`` when None, ``FAISS_BATCH_SIZE``
        for the faiss backends).
    n_jobs : int, default=None
        Blocks run in parallel with joblib threads (or the active joblib
        backend, dask included).
    exclude_self : bool, default=False
        ``X`` is the data the index was fitted on: drop each row from its own
        neighbours.
    estimator_name : str, default="The neighbour search"
        Who runs the search, for the warning of :func:`block_parallel`.

    Returns
    -------
    distances, indices : ndarrays of shape (n_queries, n_neighbors)
    """
    k = n_neighbors + 1 if exclude_self else n_neighbors
    blocks = _row_blocks(X.shape[0], batch_size, isinstance(index, (_FaissIVF, _FaissHNSW)))
    # Threads: the backends release the GIL; another joblib backend (dask) may override.
    results = block_parallel(n_jobs, estimator_name, prefer="threads")(
        delayed(_kneighbors)(index, X[b], k) for b in blocks
    )
    dist = np.concatenate([r[0] for r in results])
    ind = np.concatenate([r[1] for r in results])
    if exclude_self:
        # Move each row's own index to the end (stable, so order is kept), then
        # drop the last column; a row that did not find itself drops its k+1-th.
        is_self = ind == np.arange(ind.shape[0])[:, None]
        order = np.argsort(is_self, axis=1, kind="stable")
        ind = np.take_along_axis(ind, order, axis=1)[:, :n_neighbors]
        dist = np.take_along_axis(dist, order, axis=1)[:, :n_neighbors]
    return dist, ind


def default_gamma(distances):
    """``1 / mean squared kNN distance``: Gaussian weights that do not depend on scale.

    Squared through the largest distance, so that distances near 1e155 give
    ``gamma`` near 1e-310 without an overflow warning (beyond float64's range
    it is 0, or 1 when every distance is 0).
    """
    largest = float(np.max(distances)) if distances.size else 0.0
    if not 0 < largest < np.inf:
        return 1.0
    with np.errstate(over="ignore", under="ignore"):
        mean_sq = np.float64(largest) ** 2 * float(np.mean(np.square(distances / largest)))
    return float(1.0 / mean_sq) if mean_sq > 0 else 1.0


def gaussian_weights(distances, gamma):
    """Weights ``exp(-gamma * d^2)`` of a kNN graph."""
    return np.exp(-gamma * np.square(distances))


def knn_affinity(distances, indices, n_samples, weights):
    """Symmetric sparse affinity ``W = (A + A^T) / 2`` from kNN lists.

    Parameters
    ----------
    distances, indices : ndarrays of shape (n_samples, n_neighbors)
        Neighbours of each row (the row itself excluded).
    n_samples : int
    weights : ndarray of shape (n_samples, n_neighbors)
        Edge weight for each neighbour.

    Returns
    -------
    W : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
    """
    n_neighbors = indices.shape[1]
    indptr = np.arange(0, n_samples * n_neighbors + 1, n_neighbors)
    A = sparse.csr_matrix((weights.ravel(), indices.ravel(), indptr), shape=(n_samples, n_samples))
    A.sum_duplicates()
    return ((A + A.T) * 0.5).tocsr()


def check_n_neighbors(n_neighbors, n_samples, name="n_neighbors"):
    """Raise if a graph cannot have ``n_neighbors`` neighbours per row."""
    if not isinstance(n_neighbors, numbers.Integral) or n_neighbors >= n_samples:
        raise ValueError(
            f"{name}={n_neighbors} must be smaller than the number of rows in X "
            f"(n_samples={n_samples}); each row needs that many other rows as neighbours. "
            f"Lower {name} or pass more rows."
        )
