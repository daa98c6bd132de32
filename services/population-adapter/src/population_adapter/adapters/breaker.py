"""A circuit breaker for the upstream: closed, open (fail fast), half-open (one probe).

Written here rather than taken from aiobreaker or purgatory, the two asyncio breakers on PyPI,
because both let every concurrent call through while half-open (a recovering upstream gets the
whole backlog at once, not one probe) and both time the open period with the wall clock, which
jumps; aiobreaker also mixes local and UTC naive datetimes in its reopen time. This one counts
consecutive failures, times with a monotonic clock (injectable for tests), and admits exactly
one probe while half-open; every other call fails fast until the probe settles it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import IntEnum

Clock = Callable[[], float]


class BreakerState(IntEnum):
    """The circuit's state; the value is what the state gauge exports."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class BreakerOpenError(Exception):
    """The circuit is open (or its one probe is in flight): do not call the upstream."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__("the upstream circuit is open")
        self.retry_after_s = retry_after_s

    @property
    def retry_after_header(self) -> str:
        """Return a Retry-After value in whole seconds, at least 1."""
        return str(max(1, math.ceil(self.retry_after_s)))


class CircuitBreaker:
    """Consecutive-failure circuit breaker with a single half-open probe."""

    def __init__(
        self,
        failure_threshold: int,
        reset_timeout_s: float,
        clock: Clock = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        if failure_threshold < 1 or reset_timeout_s <= 0:
            raise ValueError("threshold must be >= 1 and reset timeout > 0")
        self._threshold = failure_threshold
        self._reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._on_change = on_change
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> BreakerState:
        """Return the state as a caller would find it now (open turns half-open on time)."""
        if self._state is BreakerState.OPEN and self._remaining() <= 0:
            return BreakerState.HALF_OPEN
        return self._state

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Run one upstream call under the breaker; any exception out of it is a failure."""
        probe = self._admit()
        try:
            yield
        except BaseException:
            self._failed(probe)
            raise
        self._succeeded(probe)

    def _admit(self) -> bool:
        if self._state is BreakerState.OPEN:
            remaining = self._remaining()
            if remaining > 0:
                raise BreakerOpenError(remaining)
            self._set(BreakerState.HALF_OPEN)
        if self._state is BreakerState.HALF_OPEN:
            if self._probing:
                # The probe's own timeout bounds how long this lasts.
                raise BreakerOpenError(1.0)
            self._probing = True
            return True
        return False

    def _succeeded(self, probe: bool) -> None:
        if probe:
            self._probing = False
            self._set(BreakerState.CLOSED)
        if self._state is BreakerState.CLOSED:
            self._failures = 0

    def _failed(self, probe: bool) -> None:
        if probe:
            self._probing = False
            self._open()
        elif self._state is BreakerState.CLOSED:
            self._failures += 1
            if self._failures >= self._threshold:
                self._open()
        # A call admitted while closed that fails after the circuit opened changes nothing.

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._failures = 0
        self._set(BreakerState.OPEN)

    def _remaining(self) -> float:
        return self._opened_at + self._reset_timeout_s - self._clock()

    def _set(self, state: BreakerState) -> None:
        if state is not self._state:
            self._state = state
            if self._on_change is not None:
                self._on_change(state)
