"""Choose the paging provider from the settings."""

from __future__ import annotations

from core.clock import Clock
from core.settings import Settings
from notifications.provider import Provider


def make_provider(settings: Settings, clock: Clock | None = None) -> Provider:
    if settings.paging_provider == "twilio":
        from notifications.twilio import TwilioProvider

        return TwilioProvider(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.twilio_from,
            api_base=settings.twilio_api_base,
        )
    from notifications.console import ConsoleProvider

    return ConsoleProvider(clock)
