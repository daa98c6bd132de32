"""The circuit breaker: opens on consecutive failures, fails fast, lets one probe through."""

from __future__ import annotations

import pytest

from population_adapter.adapters.breaker import BreakerOpenError, BreakerState, CircuitBreaker


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _fail(breaker: CircuitBreaker) -> None:
    with pytest.raises(RuntimeError), breaker.guard():
        raise RuntimeError("upstream down")


def _succeed(breaker: CircuitBreaker) -> None:
    with breaker.guard():
        pass


def test_opens_after_threshold_consecutive_failures_only() -> None:
    changes: list[BreakerState] = []
    breaker = CircuitBreaker(3, 5.0, Clock(), changes.append)
    _fail(breaker)
    _fail(breaker)
    _succeed(breaker)  # resets the count
    _fail(breaker)
    _fail(breaker)
    assert breaker.state is BreakerState.CLOSED
    _fail(breaker)
    assert breaker.state is BreakerState.OPEN
    assert changes == [BreakerState.OPEN]


def test_open_fails_fast_with_remaining_time() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 5.0, clock)
    _fail(breaker)
    clock.now += 1.5
    with pytest.raises(BreakerOpenError) as caught, breaker.guard():
        pytest.fail("the call must not run while open")
    assert caught.value.retry_after_s == pytest.approx(3.5)
    assert caught.value.retry_after_header == "4"


def test_half_open_admits_one_probe_and_closes_on_success() -> None:
    clock = Clock()
    changes: list[BreakerState] = []
    breaker = CircuitBreaker(1, 5.0, clock, changes.append)
    _fail(breaker)
    clock.now += 5.01
    assert breaker.state is BreakerState.HALF_OPEN
    probe = breaker.guard()
    probe.__enter__()
    # While the probe is in flight every other call fails fast.
    with pytest.raises(BreakerOpenError), breaker.guard():
        pytest.fail("a second call must not run during the probe")
    probe.__exit__(None, None, None)
    assert breaker.state is BreakerState.CLOSED
    assert changes == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]


def test_failed_probe_reopens_for_a_full_period() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 5.0, clock)
    _fail(breaker)
    clock.now += 6
    _fail(breaker)
    assert breaker.state is BreakerState.OPEN
    clock.now += 4.9
    with pytest.raises(BreakerOpenError), breaker.guard():
        pass


def test_cancelled_probe_counts_as_failure_and_frees_the_probe_slot() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 1.0, clock)
    _fail(breaker)
    clock.now += 2
    with pytest.raises(KeyboardInterrupt), breaker.guard():
        raise KeyboardInterrupt
    assert breaker.state is BreakerState.OPEN
    clock.now += 2
    _succeed(breaker)
    assert breaker.state is BreakerState.CLOSED


def test_late_failure_of_a_call_admitted_while_closed_does_not_extend_open() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 5.0, clock)
    slow = breaker.guard()
    slow.__enter__()  # admitted while closed
    _fail(breaker)  # another call opens the circuit meanwhile
    clock.now += 3
    slow.__exit__(RuntimeError, RuntimeError("slow call fails too"), None)
    clock.now += 2.01
    assert breaker.state is BreakerState.HALF_OPEN


def test_rejects_nonsense_configuration() -> None:
    with pytest.raises(ValueError, match="threshold"):
        CircuitBreaker(0, 1.0)
