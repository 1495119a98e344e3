"""The framework ceiling: a trivial JSON endpoint served exactly like a replica.

It lives here, not in ``service/``, so production never ships a benchmark route. It is
served by uvicorn with :func:`service.cli.server_options` (the options ``registry serve``
uses: same loop, HTTP parser, worker count, access log off), and it runs the same kind of
middleware stack a replica has on its heartbeat path: none beyond Litestar's own, since the
replica's Prometheus middleware skips ``/heartbeat``.

    python -m loadtests.trivial_app --port 8100 --workers 1
"""

from __future__ import annotations

import argparse
import sys

from litestar import Litestar, get


@get("/trivial", sync_to_thread=False)
def trivial() -> dict[str, str]:
    """The smallest JSON answer the framework can give."""
    return {"status": "ok"}


def create_app() -> Litestar:
    """The ceiling app (a factory, like ``service.app:create_app_from_env``)."""
    return Litestar(route_handlers=[trivial], debug=False)


def main(argv: list[str] | None = None) -> int:
    """Serve the ceiling app on loopback with the replica's uvicorn options."""
    parser = argparse.ArgumentParser(prog="python -m loadtests.trivial_app")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)

    import uvicorn

    from service.cli import server_options
    from service.settings import Settings

    settings = Settings(host="127.0.0.1", port=args.port, workers=args.workers, log_level="warning")
    uvicorn.run("loadtests.trivial_app:create_app", **server_options(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
