"""Render profiles in forked processes: Jinja compilation dominates large (cold) builds.

``jobs`` processes render: the parent forks ``jobs - 1`` workers, renders the catalogs
(``meanwhile``) and then renders profiles too, so the CPUs are neither idle nor
oversubscribed. Profiles are cut into small chunks that every process claims from one shared
counter, first come first served, so all processes finish within about one chunk of each
other whatever the parent did first. A profile's environments all render in the process that
claims it, so every template is compiled exactly once. Workers send each chunk's results as
soon as it is done and the parent reads them between its own chunks, so little is left to
transfer once rendering ends. Small builds stay in-process: forking costs more than it saves.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.context import ForkProcess
from multiprocessing.sharedctypes import Synchronized
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from buildtime.build import Builder, EnvPlan, Rendered

__all__ = ["CHUNK", "PARALLEL_MIN_RENDERS", "default_jobs", "render_all"]

PARALLEL_MIN_RENDERS = 300
# Profiles per claim. A cold profile costs ~3 ms (compile, then render x envs), so the last
# chunk keeps one process busy for a few tens of ms at most while a claim costs microseconds.
CHUNK = 8
# A worker should not block while the parent is busy (e.g. rendering catalogs): a pipe this
# large (the unprivileged Linux maximum) holds most of its results; elsewhere the default
# size only makes it wait a little.
_PIPE_SIZE = 1 << 20

Results = list[tuple[str, str, "Rendered"]]


class _Work:
    """What a forked worker inherits: set in the parent just before forking, never pickled."""

    def __init__(
        self,
        builder: Builder,
        plans: Sequence[EnvPlan],
        chunks: Sequence[Sequence[str]],
        counter: Synchronized[int],
    ) -> None:
        self.builder = builder
        self.plans = plans
        self.chunks = chunks
        self.counter = counter

    def claim(self) -> Sequence[str] | None:
        """The next unrendered chunk, or None when every chunk is taken."""
        with self.counter.get_lock():
            index = self.counter.value
            self.counter.value = index + 1
        return self.chunks[index] if index < len(self.chunks) else None

    def render(self, names: Sequence[str]) -> Results:
        """Every environment of every profile in ``names``."""
        return _render_names(self.builder, self.plans, names)


_WORK: _Work | None = None


def default_jobs() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _render_names(builder: Builder, plans: Sequence[EnvPlan], names: Sequence[str]) -> Results:
    out = []
    for name in names:
        for plan in plans:
            if name in plan.overrides:
                out.append((plan.env, name, builder.render_profile(plan, name)))
    return out


def _worker(conn: Connection) -> None:
    """Body of a forked worker: one message per chunk, then the templates it compiled."""
    work = _WORK
    assert work is not None, "worker started without work"
    try:
        while (names := work.claim()) is not None:
            conn.send(("chunk", work.render(names)))
        cache = work.builder.renderer.cache
        conn.send(("done", {} if cache is None else cache.take()))
    except BaseException:  # the parent re-raises it; the traceback is the useful part
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


class _Inbox:
    """The parent's end of one worker."""

    def __init__(self, process: ForkProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.done = False
        self.compiled: dict[str, bytes] = {}  # cache entries, for the parent to save

    def drain(self, into: Results, *, wait: bool) -> None:
        """Add what the worker sent to ``into``; with ``wait``, until it has finished."""
        while not self.done and (wait or self.conn.poll()):
            try:
                kind, payload = self.conn.recv()
            except EOFError:
                self.process.join(timeout=5)  # it closed the pipe by exiting: reap it
                code = self.process.exitcode
                raise RuntimeError(f"render worker died (exit code {code})") from None
            if kind == "chunk":
                into += payload
            elif kind == "done":
                self.done, self.compiled = True, payload
            else:
                raise RuntimeError(f"render worker failed:\n{payload}")


def _pipe(context: multiprocessing.context.ForkContext) -> tuple[Connection, Connection]:
    import fcntl  # Unix only, as is fork

    receive, send = context.Pipe(duplex=False)
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or above the limit
        fcntl.fcntl(send.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
    return receive, send


def render_all(
    builder: Builder,
    plans: Sequence[EnvPlan],
    meanwhile: Callable[[], None],
    arrived: Callable[[Results], None],
    *,
    jobs: int | None = None,
) -> dict[tuple[str, str], Rendered]:
    """Render every (env, profile) of ``plans``.

    ``meanwhile`` runs in this process first; then ``arrived`` runs here for every batch of
    results as it is rendered or received, while the other processes go on rendering.
    """
    global _WORK
    names = sorted({name for plan in plans for name in plan.names})
    renders = sum(len(plan.names) for plan in plans)
    jobs = default_jobs() if jobs is None else jobs
    can_fork = "fork" in multiprocessing.get_all_start_methods()
    if jobs <= 1 or renders < PARALLEL_MIN_RENDERS or not can_fork:
        meanwhile()
        everything = _render_names(builder, plans, names)
        arrived(everything)
        return {(env, name): r for env, name, r in everything}
    context = multiprocessing.get_context("fork")
    chunks = [names[i : i + CHUNK] for i in range(0, len(names), CHUNK)]
    work = _WORK = _Work(builder, plans, chunks, context.Value("i", 0))
    inboxes: list[_Inbox] = []
    rendered: Results = []
    try:
        for _ in range(jobs - 1):
            receive, send = _pipe(context)
            process = context.Process(target=_worker, args=(send,), daemon=True)
            process.start()
            send.close()  # the worker holds the other copy; EOF then means it died
            inboxes.append(_Inbox(process, receive))
        meanwhile()
        while (chunk := work.claim()) is not None:
            done = work.render(chunk)
            for inbox in inboxes:
                inbox.drain(done, wait=False)
            arrived(done)
            rendered += done
        for inbox in inboxes:
            done = []
            inbox.drain(done, wait=True)
            arrived(done)
            rendered += done
            inbox.process.join()
            if builder.renderer.cache is not None:  # one process saves the whole cache
                builder.renderer.cache.add(inbox.compiled)
    finally:
        _WORK = None
        for inbox in inboxes:
            inbox.conn.close()
            if inbox.process.is_alive():  # only after an error: the normal path joined it
                inbox.process.kill()
                inbox.process.join()
    return {(env, name): r for env, name, r in rendered}
