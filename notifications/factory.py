"""Choose the paging providers from the settings."""

from __future__ import annotations

from core.clock import Clock
from core.settings import Settings
from notifications.provider import Provider


def make_providers(
    settings: Settings, clock: Clock | None = None
) -> tuple[Provider, dict[str, Provider]]:
    """The provider pages are sent through (a failover over two when a secondary is set)
    and every configured provider by name (hang-ups, replies and look-ups go to the one
    that carried a page)."""
    if settings.paging_provider == "console":
        from notifications.console import ConsoleProvider

        console = ConsoleProvider(clock)
        return console, {console.name: console}
    names = [settings.paging_provider]
    if settings.paging_secondary is not None:
        names.append(settings.paging_secondary)
    built: dict[str, Provider] = {name: _build(name, settings) for name in names}
    if len(names) == 1:
        return built[names[0]], built
    from notifications.failover import Circuit, FailoverProvider

    circuit = Circuit(settings.circuit_failures, settings.circuit_probe_seconds)
    return FailoverProvider(built, tuple(names), circuit), built


def make_provider(settings: Settings, clock: Clock | None = None) -> Provider:
    return make_providers(settings, clock)[0]


def _build(name: str, settings: Settings) -> Provider:
    if name == "twilio":
        from notifications.twilio import TwilioProvider

        return TwilioProvider(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.twilio_from,
            api_base=settings.twilio_api_base,
            timeout=settings.provider_timeout_seconds,
        )
    if name == "vonage":
        from notifications.vonage import VonageProvider

        if not settings.vonage_private_key:
            raise ValueError("SAMENOP_VONAGE_PRIVATE_KEY is needed to page through Vonage")
        return VonageProvider(
            application_id=settings.vonage_application_id,
            private_key=settings.vonage_private_key,
            api_key=settings.vonage_api_key,
            api_secret=settings.vonage_api_secret,
            signature_secret=settings.vonage_signature_secret,
            from_number=settings.vonage_from,
            api_host=settings.vonage_api_host,
            rest_host=settings.vonage_rest_host,
            ca_bundle=settings.vonage_ca_bundle,
            timeout=settings.provider_timeout_seconds,
        )
    raise ValueError(f"unknown paging provider {name!r}")
