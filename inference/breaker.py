"""A circuit breaker per backend: stop sending calls to a backend that keeps failing.

closed: calls go through; ``failure_threshold`` consecutive failures open it.
open: calls are refused (the caller falls back) for ``open_seconds``.
half-open: after that, up to ``half_open_probes`` calls go through as probes; a probe that
succeeds closes the breaker, one that fails opens it again for another ``open_seconds``.

Not thread-safe on purpose: it lives on one event loop, like the backend it guards.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class BreakerState(StrEnum):
    """Where the breaker is."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """Thresholds and timings (from settings)."""

    failure_threshold: int = 3
    open_seconds: float = 5.0
    half_open_probes: int = 1

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.half_open_probes < 1 or self.open_seconds < 0:
            raise ValueError("failure_threshold and half_open_probes must be >= 1, open_seconds >= 0")


@dataclass(frozen=True, slots=True)
class Transition:
    """One state change, for logs, metrics and tests."""

    breaker: str
    old: BreakerState
    new: BreakerState
    at: float
    reason: str


@dataclass
class CircuitBreaker:
    """Guards one backend."""

    name: str
    config: BreakerConfig = field(default_factory=BreakerConfig)
    clock: Callable[[], float] = time.monotonic
    on_transition: Callable[[Transition], None] | None = None
    transitions: list[Transition] = field(default_factory=list)
    _state: BreakerState = BreakerState.CLOSED
    _failures: int = 0
    _opened_at: float = 0.0
    _probes: int = 0

    @property
    def state(self) -> BreakerState:
        """The current state; an open breaker whose wait is over reads as half-open."""
        if self._state is BreakerState.OPEN and self.clock() - self._opened_at >= self.config.open_seconds:
            self._move(BreakerState.HALF_OPEN, "open period over")
        return self._state

    def allow(self) -> bool:
        """May a call go to the backend now? In half-open, each True is one probe."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and self._probes < self.config.half_open_probes:
            self._probes += 1
            return True
        return False

    def record_success(self) -> None:
        """A call went through: reset the failure count; a probe's success closes the breaker."""
        self._failures = 0
        if self._state is not BreakerState.CLOSED:
            self._move(BreakerState.CLOSED, "probe succeeded")

    def record_failure(self, reason: str = "failure") -> None:
        """A call failed transiently: count it; open at the threshold or on a failed probe."""
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN:
            self._open(f"probe failed: {reason}")
        elif self._state is BreakerState.CLOSED and self._failures >= self.config.failure_threshold:
            self._open(f"{self._failures} consecutive failures, last: {reason}")

    def release_probe(self) -> None:
        """A probe ended without a verdict (a permanent error of the input, not of the backend)."""
        if self._state is BreakerState.HALF_OPEN and self._probes > 0:
            self._probes -= 1

    def _open(self, reason: str) -> None:
        self._opened_at = self.clock()
        self._move(BreakerState.OPEN, reason)

    def _move(self, new: BreakerState, reason: str) -> None:
        old = self._state
        self._state = new
        self._probes = 0
        if new is BreakerState.CLOSED:
            self._failures = 0
        transition = Transition(self.name, old, new, self.clock(), reason)
        self.transitions.append(transition)
        if self.on_transition is not None:
            self.on_transition(transition)
