"""`start_with_retry` waits out a cluster that is down or not ready, and only that."""

from __future__ import annotations

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
    NotControllerError,
    TopicAuthorizationFailedError,
)

from lgsp_common.kafka import start_with_retry


class Flaky:
    """A start-up step that fails with the given errors, then succeeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)


@pytest.mark.parametrize(
    "error",
    [KafkaConnectionError(), NodeNotReadyError(), NotControllerError(), KafkaTimeoutError()],
    ids=lambda e: type(e).__name__,
)
async def test_a_cluster_not_ready_yet_is_waited_for(error: Exception) -> None:
    step = Flaky(error, error)
    await start_with_retry(step, timeout_s=30, what="test")
    assert step.calls == 3


async def test_a_non_retriable_error_is_raised_at_once() -> None:
    step = Flaky(TopicAuthorizationFailedError())
    with pytest.raises(TopicAuthorizationFailedError):
        await start_with_retry(step, timeout_s=30, what="test")
    assert step.calls == 1


async def test_it_gives_up_after_the_timeout_and_says_so() -> None:
    step = Flaky(*[NodeNotReadyError()] * 100)
    with pytest.raises(RuntimeError, match="test: Kafka unreachable"):
        await start_with_retry(step, timeout_s=0.5, what="test")
