"""Canary analysis decisions: a pure kernel (numpy, no Django). One step's traffic of
the challenger is compared with the champion's on error rate, p99 latency and the
shift between their score distributions."""

from dataclasses import dataclass, field

import numpy as np

from monitoring.drift.psi import psi

PASS, FAIL, WAIT = "pass", "fail", "wait"


@dataclass(frozen=True)
class VariantStats:
    requests: int
    errors: int
    latencies_ms: np.ndarray
    scores: np.ndarray

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def p99_ms(self) -> float:
        return float(np.percentile(self.latencies_ms, 99)) if len(self.latencies_ms) else 0.0


@dataclass(frozen=True)
class Thresholds:
    max_error_rate_increase: float = 0.01
    max_p99_latency_ratio: float = 1.5
    min_p99_increase_ms: float = 5.0  # a slower p99 fails only past this absolute margin too
    max_score_psi: float = 0.25
    min_requests: int = 500

    @classmethod
    def from_dict(cls, data: dict) -> "Thresholds":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass(frozen=True)
class Verdict:
    decision: str
    failed_metric: str = ""
    metrics: dict = field(default_factory=dict)


def analyse(champion: VariantStats, challenger: VariantStats, limits: Thresholds) -> Verdict:
    metrics = {
        "champion_requests": champion.requests,
        "challenger_requests": challenger.requests,
        "champion_error_rate": round(champion.error_rate, 6),
        "challenger_error_rate": round(challenger.error_rate, 6),
        "champion_p99_ms": round(champion.p99_ms, 3),
        "challenger_p99_ms": round(challenger.p99_ms, 3),
    }
    if challenger.requests < limits.min_requests or champion.requests < limits.min_requests:
        return Verdict(WAIT, metrics=metrics)
    if challenger.error_rate - champion.error_rate > limits.max_error_rate_increase:
        return Verdict(FAIL, "error_rate", metrics)
    # Floors of 1 ms and an absolute margin keep millisecond noise from failing a step.
    ratio = max(challenger.p99_ms, 1.0) / max(champion.p99_ms, 1.0)
    metrics["p99_latency_ratio"] = round(ratio, 4)
    slower_by = challenger.p99_ms - champion.p99_ms
    if ratio > limits.max_p99_latency_ratio and slower_by > limits.min_p99_increase_ms:
        return Verdict(FAIL, "p99_latency", metrics)
    if len(champion.scores) and len(challenger.scores):
        metrics["score_psi"] = round(psi(champion.scores, challenger.scores), 6)
        if metrics["score_psi"] > limits.max_score_psi:
            return Verdict(FAIL, "score_psi", metrics)
    return Verdict(PASS, metrics=metrics)
