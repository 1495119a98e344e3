"""The read-only web dashboard at ``/ui``: an adapter over the application layer.

Server-rendered with Jinja2; the only script is the vendored ``static/live.js`` (no npm).
Add :class:`DashboardController` to the app's route handlers to serve it. Everything it
reads goes through :mod:`service.ui.queries`.
"""

from service.ui.pages import DashboardController

__all__ = ["DashboardController"]
