"""Shared by the neural benchmark scripts: FixMatch's learning-rate decay and a job pool."""

import math
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from multiprocessing import get_context

from skorch.callbacks import LRScheduler


def _cosine_factor(step, total):
    return math.cos(7 * math.pi * min(step, total) / (16 * total))


def fixmatch_cosine(total_steps):
    """skorch callback: ``lr * cos(7 pi k / (16 K))`` after every step k of K (Sohn et al. 2020)."""
    return LRScheduler(
        policy="LambdaLR",
        lr_lambda=partial(_cosine_factor, total=total_steps),
        step_every="batch",
    )


def map_jobs(fn, jobs, n_jobs):
    """``[fn(job) for job in jobs]``, in ``n_jobs`` spawned processes when above 1
    (each may use its own CUDA context on a shared GPU)."""
    if n_jobs <= 1:
        return [fn(job) for job in jobs]
    with ProcessPoolExecutor(n_jobs, mp_context=get_context("spawn")) as pool:
        return list(pool.map(fn, jobs))
