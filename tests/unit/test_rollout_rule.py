"""The rollout rule (service/domain/rollout.py): policy validation, sticky placement, and
the gate's decision on rates and on counts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.rollout import (
    BASIS,
    Cohort,
    Gate,
    Policy,
    bucket,
    entry_step,
    judge,
    policy_problems,
)

GOOD: dict[str, Any] = {"steps": [{"share": 5}, {"share": 25}, {"share": 100}]}


def test_a_good_policy_parses_with_defaults() -> None:
    policy = Policy.parse(GOOD)
    assert policy is not None
    assert [s.share for s in policy.steps] == [5, 25, 100]
    assert policy.gate == Gate()
    assert policy.hold_ms(0, heartbeat_interval=5) == 15_000  # three intervals
    assert Policy.parse(None) is None


@pytest.mark.parametrize(
    ("raw", "overrides", "pointer"),
    [
        ({"steps": [{"share": 50}, {"share": 40}, {"share": 100}]}, {}, "/steps/1/share"),
        ({"steps": [{"share": 5}, {"share": 50}]}, {}, "/steps/1/share"),
        ({"steps": [{"share": 0}, {"share": 100}]}, {}, "/steps/0/share"),
        ({"steps": []}, {}, "/steps"),
        ({**GOOD, "gate": {"max_failure_rate": 1.5}}, {}, "/gate/max_failure_rate"),
        (GOOD, {"p": {"shares": [10, 100]}}, "/profiles/p/rollout/shares"),
        (GOOD, {"p": {"gate": {"nope": 1}}}, "/profiles/p/rollout/gate/nope"),
        ({"steps": [{"share": 100, "hold_intervals": 0}]}, {}, "/steps/0"),
    ],
)
def test_each_broken_policy_is_named_by_its_pointer(
    raw: dict[str, Any], overrides: dict[str, Any], pointer: str
) -> None:
    problems = policy_problems(raw, overrides)
    assert pointer in [p.pointer for p in problems], problems
    if not overrides:  # a policy alone: replicas refuse it the same way
        with pytest.raises(ValueError, match=pointer):
            Policy.parse(raw)


def test_unknown_policy_fields_are_refused() -> None:
    assert policy_problems({**GOOD, "stepz": []})


@given(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20))
def test_placement_is_stable_and_in_range(agent_id: str, rollout_id: str) -> None:
    place = bucket("worker", agent_id, rollout_id)
    assert 0 <= place < BASIS
    assert place == bucket("worker", agent_id, rollout_id)


@given(
    st.integers(0, BASIS - 1),
    st.lists(st.floats(0.01, 99.99), min_size=0, max_size=4, unique=True),
)
def test_an_agent_once_on_the_candidate_stays_on_it(place: int, inner: list[float]) -> None:
    shares = (*sorted(inner), 100.0)
    entry = entry_step(place, shares)
    for step, share in enumerate(shares):
        on = step >= entry
        assert on == any(place < round(s * BASIS / 100) for s in shares[: step + 1])
        assert on or share < 100


def test_shares_draw_cohorts_of_their_size() -> None:
    ids = [f"agent-{i}" for i in range(10_000)]
    for share in (5, 25, 50):
        n = sum(entry_step(bucket("p", i, "r1"), (share, 100)) == 0 for i in ids)
        assert abs(100 * n / len(ids) - share) < 1.5
    # Another rollout draws another canary.
    first = {i for i in ids if entry_step(bucket("p", i, "r1"), (10, 100)) == 0}
    second = {i for i in ids if entry_step(bucket("p", i, "r2"), (10, 100)) == 0}
    assert len(first & second) < len(first) / 2


def test_the_gate_judges_rates_against_the_baseline() -> None:
    gate = Gate(min_sample=10)
    base = Cohort(agents=100, degraded=5, expired=2)
    assert judge(gate, Cohort(agents=20, applied=20), base) == []
    failed = judge(gate, Cohort(agents=20, applied=18, failed=2), base)
    assert [s.signal for s in failed] == ["failures"]  # 0.10 > 0.05
    degraded = judge(gate, Cohort(agents=20, applied=20, degraded=3), base)
    assert degraded == []  # 0.15 - 0.05 is not above the 0.10 excess
    degraded = judge(gate, Cohort(agents=20, applied=20, degraded=4), base)
    assert [s.signal for s in degraded] == ["degraded"]
    assert "baseline 0.050" in degraded[0].reason()


def test_a_small_cohort_is_judged_on_counts() -> None:
    gate = Gate(min_sample=10)
    base = Cohort(agents=100, expired=10)  # predicts ceil(0.1 * 3) = 1 expiry in 3
    assert judge(gate, Cohort(agents=3, expired=1), base) == []
    (only,) = judge(gate, Cohort(agents=3, expired=2), base)
    assert only.on_counts and only.threshold == 1
    assert [s.signal for s in judge(gate, Cohort(agents=3, failed=1), base)] == ["failures"]
    lenient = Gate(min_sample=10, small_sample_allowance=1)
    assert judge(lenient, Cohort(agents=3, failed=1), base) == []
    assert judge(gate, Cohort(), base) == []  # an empty cohort breaches nothing
