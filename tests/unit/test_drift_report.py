"""The drift report the leader shares through Redis stays readable across one release."""

from __future__ import annotations

import msgspec

from service.registry.drift import DriftReport

# A report as the previous release's leader wrote it: no ``in_bundle``.
PREVIOUS = (
    b'{"active_version":"sha256:a","generation":1,"profiles":[{"profile":"worker",'
    b'"active_version":"sha256:a","agents":2,"on_active":1,"on_other":{"sha256:b":["w-2"]},'
    b'"unknown":[],"convergence_ratio":0.5,"convergence_percent":50.0}]}'
)


def test_a_report_from_the_previous_release_decodes() -> None:
    report = msgspec.json.decode(PREVIOUS, type=DriftReport)
    (profile,) = report.profiles
    assert profile.in_bundle is True
    assert profile.on_other == {"sha256:b": ["w-2"]}


class _PreviousProfile(msgspec.Struct, kw_only=True):
    profile: str
    active_version: str
    agents: int
    on_active: int
    on_other: dict[str, list[str]]
    unknown: list[str]
    convergence_ratio: float
    convergence_percent: float


class _PreviousReport(msgspec.Struct, kw_only=True):
    active_version: str
    generation: int
    profiles: list[_PreviousProfile]


def test_the_previous_release_can_read_a_new_report() -> None:
    new = msgspec.json.decode(PREVIOUS, type=DriftReport)
    new.profiles[0].in_bundle = False
    encoded = msgspec.json.encode(new)
    assert b'"in_bundle":false' in encoded
    # A replica not yet updated ignores the field it does not know.
    old = msgspec.json.decode(encoded, type=_PreviousReport)
    assert old.profiles[0].on_active == 1
