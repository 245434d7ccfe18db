"""Exponential backoff: how long to wait before the next attempt of something that failed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """`attempts` tries in all; before try n+1 wait base * factor**(n-1), at most `maximum` seconds."""

    attempts: int = 3
    base: float = 60.0
    factor: float = 2.0
    maximum: float = 900.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.base < 0 or self.maximum < 0 or self.factor < 1:
            raise ValueError("backoff base and maximum must be >= 0 and factor >= 1")

    def delay(self, failed_attempt: int) -> float:
        """The wait after the `failed_attempt`-th try (1-based)."""
        return float(min(self.maximum, self.base * self.factor ** (failed_attempt - 1)))

    def delays(self) -> list[float]:
        """Every wait a run that always fails goes through (attempts - 1 of them)."""
        return [self.delay(n) for n in range(1, self.attempts)]
