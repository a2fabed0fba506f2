"""What the OTLP/HTTP exporters of the tracing and metrics modules share in configuration."""

from __future__ import annotations

from pymodular.config import ConfigModel, Secret, field

__all__ = ("OtlpHttpConfig",)


class OtlpHttpConfig(ConfigModel):
    """Headers and timeout of an OTLP/HTTP export (the endpoint is each exporter's own)."""

    headers: dict[str, Secret[str]] = field(
        default_factory=dict,
        description="Headers sent with every export (authorization tokens: secrets, masked)",
    )
    timeout: float = field(10.0, description="Seconds one export may take", gt=0)

    def revealed_headers(self) -> dict[str, str]:
        """The headers in clear, for the exporter only (never to be printed)."""
        return {name: value.reveal() for name, value in self.headers.items()}
