"""Compatibility alias of :mod:`service.domain.matching` for importers not yet moved.

``service/api/filters.py`` still imports this path; delete this module once it imports
``service.domain.matching``.
"""

from service.domain.matching import (
    Candidate,
    ConstraintError,
    ProviderEntry,
    parse_constraint,
    parse_version,
    rank,
    resolve,
    tag_score,
    tags_admit,
    version_matches,
)

__all__ = [
    "Candidate",
    "ConstraintError",
    "ProviderEntry",
    "parse_constraint",
    "parse_version",
    "rank",
    "resolve",
    "tag_score",
    "tags_admit",
    "version_matches",
]
