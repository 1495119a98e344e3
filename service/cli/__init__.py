"""``registry``: ``serve`` runs a replica; the other commands read a fleet over HTTP.

Exit codes of the operator commands are listed in ``docs/operators.md`` and in
:mod:`service.cli.http`.
"""

from __future__ import annotations

import argparse
import sys

from service.cli.serve import server_options

__all__ = ["main", "server_options"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``registry`` command."""
    from service.cli import serve

    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["serve"]:
        # A replica's cold start: parse only ``serve``, so the operator commands (httpx,
        # rich) are never imported by a process that only serves heartbeats.
        parser = argparse.ArgumentParser(prog="registry", description="Agent registry")
        serve.add_parser(parser.add_subparsers(dest="command", required=True))
        args = parser.parse_args(arguments)
        code: int = args.handler(args)
        return code

    from service.cli import commands
    from service.cli.http import CliError

    parser = argparse.ArgumentParser(prog="registry", description="Agent registry")
    sub = parser.add_subparsers(dest="command", required=True)
    serve.add_parser(sub)
    commands.add_parsers(sub)
    args = parser.parse_args(arguments)
    if args.command == "serve":  # reached only with options before the command name
        served: int = args.handler(args)
        return served
    try:
        return commands.run(args)
    except CliError as exc:
        print(f"registry: {exc}", file=sys.stderr)
        return exc.code
    except BrokenPipeError:
        # `registry events | head`: the reader left; exit quietly like other Unix tools.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
