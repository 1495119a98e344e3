"""The HTTP adapter: Litestar controllers over the application layer (:mod:`service.registry`).

Handlers are thin: they take typed parameters and bodies, call one use-case, and map its
result to a status code. The registry context is injected (``reg``); authorization is a guard
per route group.
"""
