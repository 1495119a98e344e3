"""``python -m buildtime`` runs the ``registry-build`` CLI."""

from buildtime.cli import main

raise SystemExit(main())
