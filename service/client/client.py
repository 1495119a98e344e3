"""``RegistryClient``: the heartbeat loop an agent embeds to get wiring, config and capabilities.

The registry never calls agents, so everything arrives in heartbeat answers:

- a cheap ``HEAD /heartbeat/{id}`` every lease interval; **202** or **410** (and any change
  of the agent's own, see :meth:`RegistryClient.request_post`) triggers a full ``POST``;
- several registry URLs: a failed call moves to the next one, after an exponential,
  jittered, bounded backoff; a **503** keeps all state (wiring is never dropped);
- a local disk cache, so an agent starts on its last-known config while no registry
  answers, and catches up when one does;
- callbacks run when config or capabilities change, between polls; how applying a config
  went is reported in the next POST (``config_status`` ``applied``, or ``failed`` with
  ``config_error`` when ``on_config`` raised: the loop goes on, on the version it tried);
- on ``restart_required`` the new config is cached first, then :class:`RestartRequired`
  (exit code :data:`RESTART_EXIT_CODE`) ends :meth:`RegistryClient.run` unless an
  ``on_restart`` hook is given, so the container restarts into the new config.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec

from service.client.backoff import Backoff
from service.client.cache import AgentState, DiskCache
from service.client.credentials import Credentials
from service.client.discovery import Discovery
from service.models import (
    MAX_CONFIG_ERROR,
    CapabilityDelivery,
    ConfigDelivery,
    HeartbeatResponse,
)

log = logging.getLogger("service.client")

RESTART_EXIT_CODE = 75  # EX_TEMPFAIL: "try again", which restart policies treat as a failure


class RestartRequired(Exception):
    """A major config change: the process should exit with :attr:`exit_code` and restart."""

    exit_code = RESTART_EXIT_CODE

    def __init__(self, version: str) -> None:
        super().__init__(f"config {version} requires a restart")
        self.version = version


@dataclass(frozen=True, slots=True)
class ConfigUpdate:
    """A config the agent should apply."""

    version: str
    generation: int
    payload: dict[str, Any] | None
    restart_required: bool
    from_cache: bool = False


Callback = Callable[[Any], Awaitable[None] | None]
_answer = msgspec.json.Decoder(HeartbeatResponse)


async def _call(cb: Callback | None, arg: Any) -> None:
    if cb is None:
        return
    out = cb(arg)
    if inspect.isawaitable(out):
        await out


class RegistryClient(Discovery):
    """Keeps one agent registered and up to date, and answers discovery queries.

    Either ``async with RegistryClient(...) as client:`` (heartbeats run in a background
    task for the duration of the block; leaving it, or :meth:`stop`, ends them), or
    ``await client.run()`` in a task of your own and :meth:`stop` to end it.
    """

    def __init__(
        self,
        urls: Sequence[str],
        registration: Mapping[str, Any],
        *,
        cache_dir: Path | None = None,
        interval: float = 5.0,
        timeout: float = 2.0,
        backoff: Backoff | None = None,
        on_config: Callback | None = None,
        on_capabilities: Callback | None = None,
        on_wiring: Callback | None = None,
        on_restart: Callback | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        """``registration`` is the POST body without the version fields (``agent_id``,
        ``name``, ``tools``, ``profile`` ...). ``interval`` applies until a lease arrives.
        ``credentials`` (a token or a client certificate) default to ``REGISTRY_CLIENT_*``."""
        if not urls:
            raise ValueError("at least one registry URL is required")
        self.urls = [u.rstrip("/") for u in urls]
        self.registration = dict(registration)
        self.agent_id = str(self.registration["agent_id"])
        self.interval = interval
        self.backoff = backoff or Backoff()
        self.on_config, self.on_capabilities = on_config, on_capabilities
        self.on_wiring, self.on_restart = on_wiring, on_restart
        self.cache = DiskCache(cache_dir, self.agent_id) if cache_dir is not None else None
        self.state = AgentState()
        self.current = 0  # index into urls
        self.registered = False
        self._need_post = True
        self._failing = False
        self._stop = asyncio.Event()
        self._registered = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        creds = credentials if credentials is not None else Credentials.from_env()
        self._http = httpx.AsyncClient(
            timeout=timeout, transport=transport, auth=creds.auth(), verify=creds.verify()
        )

    async def __aenter__(self) -> RegistryClient:
        """Start heartbeating in a background task (see :meth:`run`)."""
        self._task = asyncio.create_task(self.run(), name=f"registry-client-{self.agent_id}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop heartbeating and wait for the loop to end; re-raises its error, if any."""
        self.stop()
        if self._task is not None:
            task, self._task = self._task, None
            await task

    async def wait_registered(self) -> None:
        """Wait until a registry accepted the registration (a full POST answered 200).

        Bound it with ``asyncio.timeout``. If the heartbeat loop ends first, its error
        (e.g. :class:`RestartRequired`) is raised here.
        """
        waiter = asyncio.ensure_future(self._registered.wait())
        pending = {waiter} | ({self._task} if self._task is not None else set())
        try:
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if not self._registered.is_set() and self._task is not None and self._task.done():
            self._task.result()  # raises the loop's error
            raise RuntimeError("the heartbeat loop stopped before registering")

    # Lifecycle -------------------------------------------------------------------------

    async def load_cache(self) -> bool:
        """Load the disk cache and hand its config and capabilities to the callbacks."""
        cached = self.cache.load() if self.cache is not None else None
        if cached is None:
            return False
        self.state = cached
        if cached.config_version is not None:
            update = ConfigUpdate(
                cached.config_version, cached.config_generation, cached.config, False, True
            )
            if await self._hand_config(update):
                await self._restart(update.version)  # the cache holds it already
        if cached.capabilities is not None:
            await _call(self.on_capabilities, cached.capabilities)
        if cached.wiring is not None:
            await _call(self.on_wiring, cached.wiring)
        return True

    async def run(self) -> None:
        """Heartbeat until :meth:`stop`; raises :class:`RestartRequired` (see module doc)."""
        await self.load_cache()
        loop = asyncio.get_running_loop()
        try:
            while not self._stop.is_set():
                started = loop.time()
                delay = await self.tick()
                if not self._failing:
                    # Fixed rate: the interval counts from the start of the previous heartbeat,
                    # so round trips do not stretch the period and phases stay spread out.
                    delay = max(0.0, started + delay - loop.time())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
        finally:
            await self._http.aclose()

    def stop(self) -> None:
        """Ask :meth:`run` to return after the call in flight (``async with`` waits for it)."""
        self._stop.set()

    def request_post(self) -> None:
        """The agent changed (tools, registration): send a full POST at the next tick."""
        self._need_post = True

    # One heartbeat ---------------------------------------------------------------------

    async def tick(self) -> float:
        """One HEAD (or POST when due); returns the seconds to wait before the next tick."""
        url = self.urls[self.current]
        try:
            if not self._need_post:
                r = await self._send("HEAD", f"{url}/heartbeat/{self.agent_id}")
                if r.status_code == 200:
                    return self._ok()
                if r.status_code in (202, 410, 404):
                    self._need_post = True  # and POST right away, below
                elif r.status_code >= 500:
                    return self._failed(f"HEAD answered {r.status_code}")
                else:
                    log.warning("registry answered HEAD with %s; sending a POST", r.status_code)
                    self._need_post = True
            failed = await self._post(url)
            if failed is None and self._need_post:
                # Something was applied: report the new versions now rather than one
                # interval later, so /drift and the HEAD check see the agent converged.
                failed = await self._post(url)
        except httpx.HTTPError as exc:
            return self._failed(f"{type(exc).__name__}: {exc}")
        return self._ok() if failed is None else self._failed(failed)

    async def _post(self, url: str) -> str | None:
        """One full POST, applying its answer; why it failed, or ``None``."""
        r = await self._send("POST", f"{url}/heartbeat", json=self._body())
        if r.status_code >= 500:
            return f"POST answered {r.status_code}"
        if r.status_code != 200:
            # A rejected registration will not fix itself by retrying fast.
            log.error("registry rejected the heartbeat (%s): %s", r.status_code, r.text[:500])
            return f"POST answered {r.status_code}"
        try:
            body = _answer.decode(r.content)
        except msgspec.DecodeError as exc:
            # Not the registry (an ingress error page, a misrouted URL): try another one.
            kind = r.headers.get("content-type")
            return f"POST answered 200 without a heartbeat answer ({kind}): {exc}"
        self._need_post = False
        self.registered = True
        self._registered.set()
        await self._apply(body)
        return None

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, url, **kwargs)
        except httpx.RemoteProtocolError:
            # A kept-alive connection the server (or a load balancer) closed as we reused
            # it: retry once on a fresh one. Heartbeats are idempotent, so this is safe.
            return await self._http.request(method, url, **kwargs)

    def _body(self) -> dict[str, Any]:
        body = dict(self.registration)
        if self.state.config_version is not None:
            body["config_version"] = self.state.config_version
            # Only next to the version it is about (the registry stores them together).
            if self.state.config_status is not None:
                body["config_status"] = self.state.config_status
            if self.state.config_error is not None:
                body["config_error"] = self.state.config_error
        if self.state.capabilities_version is not None:
            body["capabilities_version"] = self.state.capabilities_version
        return body

    def _ok(self) -> float:
        self.backoff.reset()
        self._failing = False
        return self.interval

    def _failed(self, why: str) -> float:
        # Keep every piece of state (wiring included) and try the next registry URL.
        self.current = (self.current + 1) % len(self.urls)
        self._failing = True
        delay = self.backoff.next_delay()
        log.warning(
            "registry call failed (%s); next try %s in %.2fs", why, self.urls[self.current], delay
        )
        return delay

    async def _apply(self, body: HeartbeatResponse) -> None:
        if body.lease.interval_ms:
            self.interval = body.lease.interval_ms / 1000
        dirty = False
        # Callbacks and the disk cache get plain JSON types, as before.
        wiring = msgspec.to_builtins(body.dependencies_resolved)
        if wiring != self.state.wiring:
            self.state.wiring = wiring
            dirty = True
            await _call(self.on_wiring, wiring)
        caps = body.capabilities
        if isinstance(caps, CapabilityDelivery) and caps.changed and caps.assigned is not None:
            self.state.capabilities_version = caps.version
            self.state.capabilities = list(caps.assigned)
            self._need_post = dirty = True  # report the applied version
            await _call(self.on_capabilities, self.state.capabilities)
        cfg = body.config
        restart = await self._apply_config(cfg) if isinstance(cfg, ConfigDelivery) else None
        if restart is not None or self._need_post or dirty:
            self._save()
        if restart is not None:
            await self._restart(restart)

    async def _restart(self, version: str) -> None:
        """A restart into ``version`` (already cached): ``on_restart``, or end the loop."""
        if self.on_restart is not None:
            await _call(self.on_restart, version)
        else:
            raise RestartRequired(version)

    async def _apply_config(self, cfg: ConfigDelivery) -> str | None:
        """Apply a delivered config; returns its version when a restart is required."""
        if not cfg.changed or cfg.payload is None:
            return None
        if cfg.generation < self.state.config_generation:
            # A replica that has not yet learnt the newest activation: never step back.
            return None
        update = ConfigUpdate(
            version=cfg.version,
            generation=cfg.generation,
            payload=dict(cfg.payload),
            restart_required=cfg.restart_required,
        )
        self.state.config_version = update.version
        self.state.config_generation = update.generation
        self.state.config = update.payload
        # The version is kept even if the callback fails: reporting it stops the registry
        # from delivering the same payload again on every heartbeat.
        self._need_post = True  # report the applied version (drift) in the next POST
        asked = await self._hand_config(update)
        return update.version if update.restart_required or asked else None

    async def _hand_config(self, update: ConfigUpdate) -> bool:
        """Run ``on_config`` and record how it went in the state (reported with the version,
        cached with it); ``True`` when the callback raised :class:`RestartRequired`."""
        try:
            await _call(self.on_config, update)
        except RestartRequired:
            # The agent asks to restart into this config: not a failure to apply it.
            self.state.config_status, self.state.config_error = "applied", None
            return True
        except Exception as exc:
            # A broken callback must not end the heartbeat loop (the agent would vanish from
            # the registry); the failure is reported instead, for the rollout gate to see.
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self.state.config_status = "failed"
            self.state.config_error = error[:MAX_CONFIG_ERROR]
            log.error(
                "applying config %s failed; reporting config_status failed",
                update.version,
                exc_info=exc,
            )
            return False
        self.state.config_status, self.state.config_error = "applied", None
        return False

    def _save(self) -> None:
        if self.cache is None:
            return
        try:
            self.cache.save(self.state)
        except OSError as exc:  # a full disk must not stop heartbeats
            log.warning("could not write the registry cache %s: %s", self.cache.path, exc)
