"""Reading a channel's secret options at send time, for the channels added in wave 2 (webhook,
Teams, Opsgenie): a missing or unresolvable reference is a ``DeliveryError`` naming the channel
and the option, never the value."""

from __future__ import annotations

from ..config import Channel
from .base import DeliveryError, SecretResolver


def resolve_option(secrets: SecretResolver, channel: Channel, key: str) -> str:
    """The value behind ``channel``'s ``key`` (a secret reference, or a literal for local runs)."""
    reference = channel.get(key)
    if not reference:
        raise DeliveryError(f"{channel.type} channel {channel.name}: no {key} configured", permanent=True)
    try:
        return secrets.resolve(str(reference))
    except Exception as exc:  # resolver errors name the reference, never the value
        raise DeliveryError(
            f"{channel.type} channel {channel.name}: {key} could not be resolved ({type(exc).__name__}: {exc})",
            permanent=bool(getattr(exc, "permanent", False)),
        ) from None
