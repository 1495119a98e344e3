"""Render profiles in forked worker processes: Jinja compilation dominates large builds.

Each worker takes whole profiles (all environments of a profile in one process) so every
template is compiled exactly once. Small builds stay in-process: forking costs more.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from buildtime.build import Builder, EnvPlan, Rendered

__all__ = ["PARALLEL_MIN_RENDERS", "default_jobs", "render_all"]

PARALLEL_MIN_RENDERS = 300
# Set in the parent just before forking; workers inherit it instead of unpickling a Builder.
_STATE: tuple[Builder, Sequence[EnvPlan]] | None = None


def default_jobs() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _render_names(names: Sequence[str]) -> list[tuple[str, str, Rendered]]:
    assert _STATE is not None, "worker started without state"
    builder, plans = _STATE
    out = []
    for name in names:
        for plan in plans:
            if name in plan.overrides:
                out.append((plan.env, name, builder.render_profile(plan, name)))
    return out


def render_all(
    builder: Builder,
    plans: Sequence[EnvPlan],
    meanwhile: Callable[[], None],
    *,
    jobs: int | None = None,
) -> dict[tuple[str, str], Rendered]:
    """Render every (env, profile) of ``plans``; ``meanwhile`` runs in this process."""
    global _STATE
    names = sorted({name for plan in plans for name in plan.names})
    renders = sum(len(plan.names) for plan in plans)
    jobs = default_jobs() if jobs is None else jobs
    can_fork = "fork" in multiprocessing.get_all_start_methods()
    if jobs <= 1 or renders < PARALLEL_MIN_RENDERS or not can_fork:
        _STATE = (builder, plans)
        try:
            meanwhile()
            return {(env, name): r for env, name, r in _render_names(names)}
        finally:
            _STATE = None
    # Contiguous slices, several per worker so a slow slice does not idle the others.
    size = max(1, -(-len(names) // (jobs * 4)))
    chunks = [names[i : i + size] for i in range(0, len(names), size)]
    _STATE = (builder, plans)
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = [pool.submit(_render_names, chunk) for chunk in chunks]
            meanwhile()
            results: dict[tuple[str, str], Rendered] = {}
            for future in futures:
                results.update({(env, name): r for env, name, r in future.result()})
            return results
    finally:
        _STATE = None
