"""``registry-build``: build, validate, diff, history and promote config bundles.

Exit status: 0 success, 1 validation errors (or differences with ``diff --exit-code``),
2 usage, configuration, git or bundle errors.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from buildtime.build import Builder, BuildFailed
from buildtime.difftext import diff_json, format_diff
from buildtime.gitmeta import GitError, metadata
from buildtime.history import format_history, history
from buildtime.issues import Issues, format_json, format_text
from buildtime.project import Project, ProjectError
from buildtime.promote import promote
from buildtime.sources import resolve_source
from service.bundle import BundleError, assemble_bundle
from service.bundle_diff import diff_bundles

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--root",
        type=Path,
        default=Path.cwd(),
        help="repository root holding templates/ and schemas/ (default: cwd)",
    )
    common.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    common.add_argument(
        "--cache-dir",
        type=Path,
        default=_default_cache(),
        help="compiled-template cache (env REGISTRY_BUILD_CACHE)",
    )
    common.add_argument("--no-cache", action="store_true", help="do not cache compiled templates")
    common.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="render in this many processes (default: CPUs, large projects only)",
    )
    parser = argparse.ArgumentParser(prog="registry-build", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("build", parents=[common], help="render, validate and write one bundle")
    p.add_argument("--env", required=True, help="environment, or 'auto' to map the git branch")
    p.add_argument("--out", type=Path, required=True, help="bundle directory (replaced)")
    p.add_argument("--stamp", action="store_true", help="record build time and host (unhashed)")
    p.add_argument("--expect-version", help="fail unless the bundle has this version")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the version")

    p = sub.add_parser("validate", parents=[common], help="the CI gate: report every error")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--env", help="environment (default: default_env), or 'auto'")
    group.add_argument("--all-envs", action="store_true", help="validate every environment")

    p = sub.add_parser("diff", parents=[common], help="semantic diff of two bundles or git refs")
    p.add_argument("a", help="bundle directory, '.' (work tree) or git ref")
    p.add_argument("b", help="bundle directory, '.' (work tree) or git ref")
    p.add_argument("--env", help="environment to build refs for (default: default_env)")
    p.add_argument("--to-env", help="environment for B when it differs from A's")
    p.add_argument("--exit-code", action="store_true", help="exit 1 when the bundles differ")

    p = sub.add_parser("history", parents=[common], help="git history of a profile's inputs")
    p.add_argument("profile", nargs="?", help="profile name (default: all inputs)")
    p.add_argument("--env", help="environment whose versions are shown (default: default_env)")
    p.add_argument("--limit", type=int, default=20, help="at most this many commits")

    p = sub.add_parser("promote", parents=[common], help="rebuild a commit for the next env")
    p.add_argument("--from", dest="from_env", required=True, help="source environment")
    p.add_argument("--to", dest="to_env", required=True, help="target environment")
    p.add_argument("--ref", help="commit to promote (default: the source env's branch, or HEAD)")
    p.add_argument("--current", help="target's current bundle dir or ref (default: its branch)")
    p.add_argument("--out", type=Path, help="also write the promoted bundle here")
    return parser


def _default_cache() -> Path:
    if configured := os.environ.get("REGISTRY_BUILD_CACHE"):
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "registry-build" / "templates"


def _builder(args: argparse.Namespace, project: Project) -> Builder:
    cache = None if args.no_cache else args.cache_dir
    return Builder(project, cache_dir=cache, jobs=args.jobs)


def _env(project: Project, env: str | None) -> str:
    if env is None:
        return project.default_env
    if env == "auto":
        branch = metadata(project.root, project.input_paths())["branch"]
        return project.env_for_branch(branch)
    return project.check_env(env)


def _report(issues: Issues, fmt: str, **extra: object) -> None:
    if fmt == "json":
        print(format_json(issues, **extra))
    else:
        print(format_text(issues), file=sys.stderr)
        files = len({i.file for i in issues})
        print(f"{len(issues)} error(s) in {files} file(s)", file=sys.stderr)


def _cmd_build(args: argparse.Namespace, project: Project) -> int:
    env = _env(project, args.env)
    git = metadata(project.root, project.input_paths())
    bundle = _builder(args, project).write(env, args.out, git, stamp=args.stamp)
    if args.expect_version and args.expect_version not in (bundle.version, bundle.version[7:]):
        print(f"bundle version {bundle.version} != expected {args.expect_version}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps({"ok": True, "out": str(args.out), "manifest": bundle.manifest}, indent=2))
    elif args.quiet:
        print(bundle.version)
    else:
        print(
            f"built {env} bundle {bundle.version} ({len(bundle.profiles)} profiles) -> {args.out}"
        )
    return 0


def _cmd_validate(args: argparse.Namespace, project: Project) -> int:
    envs = list(project.environments) if args.all_envs else [_env(project, args.env)]
    builder = _builder(args, project)
    issues, builds = builder.validate(envs)
    if issues:
        _report(issues, args.format, environments=envs)
        return 1
    versions = {}
    for env, build in builds.items():
        bundle = assemble_bundle(
            profiles=build.profiles,
            catalog=build.catalog,
            environment=env,
            git={},
            schema_versions=builder.schemas.versions,
            defaults=build.defaults,
            rollout=build.rollout,
        )
        versions[env] = {"version": bundle.version, "profiles": len(build.profiles)}
    if args.format == "json":
        print(format_json(issues, environments=envs, bundles=versions))
    else:
        for env, info in versions.items():
            print(f"ok {env}: {info['profiles']} profiles, version {info['version']}")
    return 0


def _cmd_diff(args: argparse.Namespace, project: Project) -> int:
    env = _env(project, args.env)
    a = resolve_source(project, args.a, env, os.environ)
    b = resolve_source(
        project, args.b, _env(project, args.to_env) if args.to_env else env, os.environ
    )
    diff = diff_bundles(a.bundle, b.bundle)
    if args.format == "json":
        print(diff_json(diff, a=a.label, b=b.label))
    else:
        print(format_diff(diff, a.label, b.label))
    return 1 if args.exit_code and not diff.identical else 0


def _cmd_history(args: argparse.Namespace, project: Project) -> int:
    env = _env(project, args.env)
    if args.profile and args.profile not in Builder(project, {}).renderer.profile_names():
        raise ProjectError(f"unknown profile {args.profile!r}")
    entries = history(project, args.profile, env, os.environ, limit=args.limit)
    print(format_history(entries, args.profile, args.format))
    return 0


def _cmd_promote(args: argparse.Namespace, project: Project) -> int:
    from_env, to_env = project.check_env(args.from_env), project.check_env(args.to_env)
    result = promote(project, from_env, to_env, os.environ, ref=args.ref, current=args.current)
    if args.out:
        from service.bundle import save_bundle

        save_bundle(result.bundle, args.out)
    if args.format == "json":
        extra = {
            "commit": result.commit,
            "ref": result.ref,
            "version": result.bundle.version,
            "current": result.current_label,
        }
        if result.diff is None:
            print(json.dumps({**extra, "diff": None}, indent=2))
        else:
            print(diff_json(result.diff, **extra))
        return 0
    print(
        f"promote {result.ref} ({result.commit[:10]}) {from_env} -> {to_env}: "
        f"valid, version {result.bundle.version}"
    )
    if result.diff is None:
        print(f"no current {to_env} bundle found (pass --current): every profile is new")
    else:
        print(
            format_diff(result.diff, result.current_label or "current", f"{result.ref} ({to_env})")
        )
    return 0


COMMANDS = {
    "build": _cmd_build,
    "validate": _cmd_validate,
    "diff": _cmd_diff,
    "history": _cmd_history,
    "promote": _cmd_promote,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``registry-build`` and ``python -m buildtime``."""
    args = _parser().parse_args(argv)
    try:
        project = Project.load(args.root)
        return COMMANDS[args.command](args, project)
    except BuildFailed as exc:
        _report(exc.issues, args.format)
        return 1
    except (ProjectError, GitError, BundleError) as exc:
        print(f"registry-build: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `registry-build diff ... | head`: the reader left. Exit quietly, like other Unix
        # tools; point stdout at /dev/null so the interpreter's final flush cannot fail too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
