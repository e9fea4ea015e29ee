"""The locator's Prometheus series."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

SIGNING_BUCKETS = (
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
)  # fmt: skip


class LocatorMetrics:
    """Tokens issued, introspections by outcome, revocations, signing time."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.issued = Counter(
            "locator_tokens_issued_total", "Access tokens issued.", registry=registry
        )
        self.introspections = Counter(
            "locator_introspections_total",
            "Introspection answers by whether the token was active.",
            ["active"],
            registry=registry,
        )
        self.active = self.introspections.labels("true")
        self.inactive = self.introspections.labels("false")
        self.rejections = Counter(
            "locator_token_rejections_total",
            "Tokens found inactive, by reason (the answer itself never says why).",
            ["reason"],
            registry=registry,
        )
        self.revocations = Counter(
            "locator_revocations_total", "Tokens newly revoked.", registry=registry
        )
        self.signing = Histogram(
            "locator_signing_duration_seconds",
            "Time to sign one access token (serialisation and Ed25519).",
            buckets=SIGNING_BUCKETS,
            registry=registry,
        )
        self.exchanges = Counter(
            "locator_token_exchanges_total",
            "OIDC token exchanges by outcome.",
            ["outcome"],
            registry=registry,
        )
