"""The registry's rules as pure code: matching, catalog checks, cycles, thresholds.

No I/O here and no imports of the API, MCP, store, Redis or Litestar layers: the build
(``buildtime``) and the service both import these modules, so they cannot disagree.
"""
