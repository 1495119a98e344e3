"""Operator commands of ``registry``: read the fleet through the HTTP API (never Redis)."""

from __future__ import annotations

import argparse
import os
import time
import typing
from typing import Any

from rich.console import Group
from rich.text import Text

from service.cli import render
from service.cli.http import DEFAULT_URL, Api, CliError, path_part
from service.models import AgentStatus, ProviderStatus

FOLLOW_WAIT = "25s"  # long-poll window asked of a server that supports ?follow=true
FOLLOW_PAUSE = 1.0  # seconds between polls when the server answers at once
# The actions of POST /admin/config/rollout/{action} (service.registry.rollout_admin.ACTIONS,
# not imported: the CLI loads no server code; a test checks the two agree).
ROLLOUT_ACTIONS = ("pause", "resume", "promote", "abort")


def add_parsers(sub: Any) -> None:
    """Register the operator commands on the ``registry`` subcommand parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        default=os.environ.get("REGISTRY_URL", DEFAULT_URL),
        help=f"registry base URL (REGISTRY_URL, default {DEFAULT_URL})",
    )
    common.add_argument(
        "--token",
        default=os.environ.get("REGISTRY_TOKEN"),
        help="bearer token sent with every request (REGISTRY_TOKEN)",
    )
    common.add_argument("--output", "-o", choices=("table", "json"), default="table")
    common.add_argument("--timeout", type=float, default=10.0, help="seconds per request")

    def cmd(name: str, help_: str, handler: Any) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help_, parents=[common])
        p.set_defaults(handler=handler)
        return p

    p = cmd("agents", "list agents (filtered like GET /agents)", agents)
    p.add_argument("--status", choices=typing.get_args(AgentStatus))
    p.add_argument("--capability")
    p.add_argument("--namespace")
    p.add_argument("--tag", action="append", help="repeatable; --tag=-name excludes")
    p.add_argument("--version", help="semver constraint on the capability version")
    p.add_argument("--limit", type=int, default=1000, help="stop after this many agents")

    p = cmd("agent", "one agent: tools, dependencies and providers, health, config", agent)
    p.add_argument("agent_id")

    p = cmd("capabilities", "capabilities with live providers", capabilities)
    p.add_argument("--namespace", default="default")
    p.add_argument("--tag", action="append")
    p.add_argument("--limit", type=int, default=1000)

    p = cmd("providers", "live providers of one capability", providers)
    p.add_argument("capability")
    p.add_argument("--namespace", default="default")
    p.add_argument("--version", help="semver constraint, e.g. ^1.2")
    p.add_argument("--tag", action="append")
    p.add_argument("--status", choices=typing.get_args(ProviderStatus))
    p.add_argument("--limit", type=int, default=1000)

    p = cmd("events", "event history; --follow prints new events as they happen", events)
    p.add_argument("--type", action="append", dest="types", help="repeatable")
    p.add_argument("--agent")
    p.add_argument("--namespace")
    p.add_argument("--since", help="RFC 3339 timestamp or epoch milliseconds")
    p.add_argument("--limit", type=int, default=1000)
    p.add_argument("--follow", "-f", action="store_true", help="keep printing new events")

    p = cmd("drift", "per profile: agents on the active config, on others, unknown", drift)
    p.add_argument("--namespace")

    p = cmd("config", "the active bundle, published versions, or a diff of two", config)
    p.add_argument("what", choices=("active", "versions", "diff"))
    p.add_argument("versions", nargs="*", metavar="VERSION", help="diff: FROM TO")

    p = cmd(
        "rollout",
        "the config rollout: step, cohorts, gate signals, decisions; or pause, resume, "
        "promote or abort it (admin token)",
        rollout,
    )
    p.add_argument(
        "action", nargs="?", choices=ROLLOUT_ACTIONS, help="change the open rollout (admin scope)"
    )
    p.add_argument("--reason", help="with an action: why, kept in the decision history")
    p.add_argument("--decisions", type=int, default=10, help="decisions shown (table output)")


def run(args: argparse.Namespace) -> int:
    """Run one operator command; :class:`CliError` propagates to ``main``."""
    api = Api(args.url, token=args.token, timeout=args.timeout)
    try:
        result: int = args.handler(api, args)
        return result
    finally:
        api.close()


def _filters(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    return {name: getattr(args, name, None) for name in names}


def agents(api: Api, args: argparse.Namespace) -> int:
    """``registry agents``."""
    params = _filters(args, "status", "capability", "namespace", "version")
    params["tag"] = args.tag or []
    items = list(api.pages("/agents", "agents", params, args.limit))
    if args.output == "json":
        render.print_json({"agents": items, "count": len(items)})
        return 0
    rows = [
        (
            a["id"],
            a["name"],
            a["namespace"],
            render.status(a["status"]),
            ", ".join(sorted({c["name"] for c in a["capabilities"]})) or "-",
            render.ago(a.get("last_seen")),
            render.short(a.get("config_version")),
        )
        for a in items
    ]
    columns = ("ID", "NAME", "NAMESPACE", "STATUS", "CAPABILITIES", "LAST SEEN", "CONFIG")
    render.console().print(render.table(f"{len(items)} agents", columns, rows))
    return 0


def agent(api: Api, args: argparse.Namespace) -> int:
    """``registry agent ID``: the record, its health timer and who provides its dependencies."""
    ident = path_part(args.agent_id)
    view = api.get(f"/agents/{ident}")
    health = api.get(f"/agents/{ident}/health")
    wiring = {
        dep: api.get(
            f"/capabilities/{path_part(dep)}/providers", {"namespace": view["namespace"]}
        ).get("providers", [])
        for dep in view.get("dependencies", [])
    }
    if args.output == "json":
        render.print_json({"agent": view, "health": health, "providers": wiring})
        return 0
    head = Text.assemble(
        (view["id"], "bold"),
        f"  {view['name']} {view['version']}  ns={view['namespace']}  ",
        render.status(view["status"]),
        f"\nendpoint {view['endpoint']}  profile {view.get('profile') or '-'}  "
        f"config {view.get('config_version') or '-'}",
        f"\nlast heartbeat {render.ago(health.get('last_heartbeat'))}, "
        f"TTL left {health['ttl_remaining_ms'] / 1000:.1f}s "
        f"(degraded after {health['degraded_after_ms'] / 1000:g}s, "
        f"expired after {health['expire_after_ms'] / 1000:g}s)",
    )
    tools = render.table(
        "tools",
        ("FUNCTION", "CAPABILITY", "VERSION", "TAGS"),
        (
            (c["function_name"], c["name"], c["version"], ", ".join(c["tags"]) or "-")
            for c in view["capabilities"]
        ),
    )
    deps = render.table(
        "dependencies (live providers now)",
        ("CAPABILITY", "PROVIDER", "FUNCTION", "ENDPOINT", "STATUS"),
        _wiring_rows(wiring),
    )
    render.console().print(Group(head, Text(""), tools, Text(""), deps))
    return 0


def _wiring_rows(wiring: dict[str, list[dict[str, Any]]]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for dep, found in wiring.items():
        if not found:
            rows.append((dep, "-", "-", "-", render.status("unresolved")))
        for p in found:
            rows.append(
                (dep, p["agent_id"], p["function_name"], p["endpoint"], render.status(p["status"]))
            )
    return rows


def capabilities(api: Api, args: argparse.Namespace) -> int:
    """``registry capabilities``."""
    params = {"namespace": args.namespace, "tag": args.tag or []}
    items = list(api.pages("/capabilities", "capabilities", params, args.limit))
    if args.output == "json":
        render.print_json({"capabilities": items, "count": len(items)})
        return 0
    rows = [
        (c["name"], c["namespace"], c["providers"], ", ".join(c["versions"]), ", ".join(c["tags"]))
        for c in items
    ]
    columns = ("CAPABILITY", "NAMESPACE", "PROVIDERS", "VERSIONS", "TAGS")
    render.console().print(render.table(f"{len(items)} capabilities", columns, rows))
    return 0


def providers(api: Api, args: argparse.Namespace) -> int:
    """``registry providers CAP``."""
    params = _filters(args, "namespace", "version", "status")
    params["tag"] = args.tag or []
    path = f"/capabilities/{path_part(args.capability)}/providers"
    items = list(api.pages(path, "providers", params, args.limit))
    if args.output == "json":
        render.print_json({"capability": args.capability, "providers": items})
        return 0
    rows = [
        (
            p["agent_id"],
            p["function_name"],
            p["version"],
            ", ".join(p["tags"]) or "-",
            p["endpoint"],
            render.status(p["status"]),
        )
        for p in items
    ]
    columns = ("AGENT", "FUNCTION", "VERSION", "TAGS", "ENDPOINT", "STATUS")
    title = f"{len(items)} providers of {args.capability}"
    render.console().print(render.table(title, columns, rows))
    return 0


def events(api: Api, args: argparse.Namespace) -> int:
    """``registry events``; with ``--follow`` it polls with the cursor until interrupted."""
    params: dict[str, Any] = {
        "type": args.types or [],
        "agent_id": args.agent,
        "namespace": args.namespace,
        "since": args.since,
    }
    if not args.follow:
        items = list(api.pages("/events", "events", params, args.limit))
        if args.output == "json":
            render.print_json({"events": items, "count": len(items)})
        else:
            render.console().print(render.table(None, _EVENT_COLUMNS, map(_event_row, items)))
        return 0
    return _follow(api, args, params)


def _event_key(event: dict[str, Any]) -> tuple[int, int]:
    """A stream id ``<ms>-<seq>`` as a sortable pair."""
    ms, _, seq = str(event["id"]).partition("-")
    return int(ms), int(seq or 0)


def _follow(api: Api, args: argparse.Namespace, params: dict[str, Any]) -> int:
    """Print events as they happen until interrupted.

    Resumes from the last event's time (``since`` is inclusive, so events already printed
    are skipped by id) and follows ``next_cursor`` while a poll has more. ``follow=true``
    and ``wait`` let a server that supports long-polling hold the request open.
    """
    out = render.console()
    last: tuple[int, int] | None = None
    since, cursor = args.since, None
    try:
        while True:
            query = {**params, "follow": "true", "wait": FOLLOW_WAIT}
            query.update({"cursor": cursor} if cursor else {"since": since})
            page = api.get("/events", query)
            fresh = [e for e in page.get("events", []) if last is None or _event_key(e) > last]
            for item in fresh:
                if args.output == "json":
                    render.print_json_line(item)
                else:
                    cells = _event_row(item)
                    out.print(
                        Text(" ").join(c if isinstance(c, Text) else Text(str(c)) for c in cells)
                    )
            if fresh:
                last = _event_key(fresh[-1])
                since = str(last[0])
            cursor = page.get("next_cursor")
            if not cursor and not fresh:
                time.sleep(FOLLOW_PAUSE)
    except KeyboardInterrupt:
        return 0


_EVENT_COLUMNS = ("TIME", "TYPE", "AGENT", "NAMESPACE", "DETAIL")


def _event_row(e: dict[str, Any]) -> tuple[Any, ...]:
    return (
        e["timestamp"],
        render.event_type(e["type"]),
        e["agent_id"],
        e["namespace"],
        e.get("detail") or "",
    )


def drift(api: Api, args: argparse.Namespace) -> int:
    """``registry drift``."""
    report = api.get("/drift", {"namespace": args.namespace})
    if args.output == "json":
        render.print_json(report)
        return 0
    rows = [
        (
            p["profile"],
            p["agents"],
            p["on_active"],
            sum(len(v) for v in p["on_other"].values()),
            len(p["unknown"]),
            f"{p['convergence_percent']:.0f}%",
        )
        for p in report["profiles"]
    ]
    title = f"active {report['active_version']} (generation {report['generation']})"
    columns = ("PROFILE", "AGENTS", "ON ACTIVE", "ON OTHER", "UNKNOWN", "CONVERGED")
    render.console().print(render.table(title, columns, rows))
    return 0


def config(api: Api, args: argparse.Namespace) -> int:
    """``registry config active|versions|diff FROM TO``."""
    if args.what == "diff":
        if len(args.versions) != 2:
            raise CliError("config diff needs two versions: registry config diff FROM TO", 2)
        body = api.get("/config/diff", {"from": args.versions[0], "to": args.versions[1]})
    elif args.versions:
        raise CliError(f"config {args.what} takes no version", 2)
    else:
        body = api.get(f"/config/{args.what}")
    if args.output == "json":
        render.print_json(body)
        return 0
    out = render.console()
    if args.what == "active":
        fields: list[tuple[Any, ...]] = [(k, str(v)) for k, v in body.items()]
        out.print(render.table("active bundle", ("FIELD", "VALUE"), fields))
    elif args.what == "versions":
        active = body["active"]["version"]
        out.print(
            render.table(
                f"active {active} (revision {body['active']['revision']}, "
                f"generation {body['active']['generation']}, {body['active']['source']})",
                ("VERSION", "PUBLISHED", "ACTIVE"),
                (
                    (
                        v["version"],
                        render.ago(v["published_at"]),
                        "*" if v["version"] == active else "",
                    )
                    for v in body["versions"]
                ),
            )
        )
        out.print(
            render.table(
                "activations",
                ("AT", "GENERATION", "REVISION", "VERSION", "SOURCE"),
                (
                    (h["at"], h["generation"], h["revision"], h["version"], h["source"])
                    for h in body["history"]
                ),
            )
        )
    else:
        rows = [
            (
                p["profile"],
                "MAJOR" if p["major"] else "minor",
                ", ".join(p["changed"] + p["added"] + p["removed"]) or "-",
            )
            for p in body["profiles"]
        ]
        title = f"{body['from_version']} -> {body['to_version']}"
        out.print(render.table(title, ("PROFILE", "CHANGE", "PATHS"), rows))
    return 0


def rollout(api: Api, args: argparse.Namespace) -> int:
    """``registry rollout [pause|resume|promote|abort [--reason TEXT]]``."""
    if args.action is None:
        if args.reason:
            raise CliError("--reason goes with an action: registry rollout pause --reason TEXT", 2)
        view = api.get("/config/rollout")
    else:
        view = api.post(f"/admin/config/rollout/{args.action}", {"reason": args.reason})
    if args.output == "json":
        render.print_json(view)
        return 0
    render.console().print(_rollout_view(view, args.decisions))
    return 0


def _rollout_view(view: dict[str, Any], decisions: int) -> Group:
    """Head line, steps, cohorts, gate signals and the latest decisions of a rollout."""
    parts: list[Any] = []
    state, steps = view["state"], view["steps"]
    if state == "none":
        parts.append(
            Text.assemble(
                "config rollout: ",
                render.rollout_state("none"),
                " (deploying a bundle with a rollout policy starts one)",
            )
        )
    else:
        step = view["step"] or 0
        at = steps[min(step, len(steps) - 1)]["share"] if steps else None
        parts.append(
            Text.assemble(
                (f"rollout {view['id']}", "bold"),
                "  ",
                render.rollout_state(state),
                f"  step {step + 1}/{len(steps) or '?'}",
                f" ({at:g}%)" if at is not None else "",
                f", step since {render.ago(view['step_started_at'])},"
                f" started {render.ago(view['started_at'])}",
                f"\ncandidate {view['candidate']}\nbaseline  {view['baseline']}",
                f"\nreason: {view['reason']}" if view.get("reason") else "",
            )
        )
        parts += [
            Text(""),
            render.table(
                "steps",
                ("STEP", "SHARE", "HOLD", ""),
                (
                    (
                        i + 1,
                        f"{s['share']:g}%",
                        render.duration(s["hold_ms"]),
                        "<- now" if i == step and state in ("running", "paused") else "",
                    )
                    for i, s in enumerate(steps)
                ),
            ),
        ]
    profiles = view["profiles"]
    if profiles:
        parts += [Text(""), render.table("cohorts", _COHORT_COLUMNS, map(_cohort_row, profiles))]
        signal_rows = [
            (Text(p["profile"] if i == 0 else ""), *render.signal_cells(sig))
            for p in profiles
            for i, sig in enumerate(p["signals"])
        ]
        parts += [Text(""), render.table("gate signals", _SIGNAL_COLUMNS, signal_rows)]
    if view["decisions"] and decisions > 0:
        rows = [
            (
                d["at"],
                d["rollout"],
                render.decision(d["decision"]),
                d["step"] + 1,
                d["by"],
                d["reason"] or "-",
            )
            for d in view["decisions"][:decisions]
        ]
        parts += [Text(""), render.table("decisions (newest first)", _DECISION_COLUMNS, rows)]
    return Group(*parts)


_COHORT_COLUMNS = (
    "PROFILE",
    "SHARE",
    "CANDIDATE",
    "APPLIED",
    "FAILED",
    "PENDING",
    "BASELINE",
    "NOT GATING",
)
_SIGNAL_COLUMNS = ("PROFILE", "SIGNAL", "CANDIDATE", "BASELINE", "MAX", "JUDGED ON", "")
_DECISION_COLUMNS = ("AT", "ROLLOUT", "DECISION", "STEP", "BY", "REASON")


def _cohort_row(p: dict[str, Any]) -> tuple[Any, ...]:
    cand, base = p["candidate"], p["baseline"]
    return (
        p["profile"],
        f"{p['share']:g}%",
        cand["agents"],
        cand["applied"],
        cand["failed"],
        p["pending"],
        base["agents"],
        p["not_gating"],
    )
