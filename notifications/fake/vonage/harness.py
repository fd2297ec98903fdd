"""Running the fake Vonage inside a test process, over TLS, for the real SDK.

``FakeVonageServer`` serves ``create_vonage_app`` on a free port in a daemon thread, with
a certificate for 127.0.0.1 from a throwaway CA; ``provider()`` is the production
``VonageProvider`` pointed at it (``host`` as both of Vonage's hosts, ``ca_path`` as
the CA to trust)::

    @pytest.fixture
    def vonage() -> Iterator[FakeVonageServer]:
        with FakeVonageServer() as server:
            yield server

    def test_pages(vonage):
        provider = vonage.provider()
        ...
        call = vonage.expect_call("+31612345678")
        vonage.fake.answer(call.uuid)
        vonage.assert_nothing_unexpected()

``face()`` is what the Twilio face's phone page needs to show this face's phones too
(``FakeTwilioServer(faces=[vonage.face()])``), as in the demo.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType

from notifications.fake.faces import Face
from notifications.fake.server import ServerThread
from notifications.fake.vonage.app import create_vonage_app
from notifications.fake.vonage.control import create_control_app
from notifications.fake.vonage.keys import application_key, tls_files
from notifications.fake.vonage.records import VonageCall, VonageMessage
from notifications.fake.vonage.state import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    DEFAULT_APPLICATION_ID,
    DEFAULT_FROM,
    DEFAULT_SIGNATURE_SECRET,
    FakeVonage,
)
from notifications.vonage import VonageProvider


class FakeVonageServer:
    def __init__(
        self,
        *,
        application_id: str = DEFAULT_APPLICATION_ID,
        private_key: str | None = None,
        api_key: str = DEFAULT_API_KEY,
        api_secret: str = DEFAULT_API_SECRET,
        signature_secret: str = DEFAULT_SIGNATURE_SECRET,
        signature_method: str = "sha256",
        from_number: str = DEFAULT_FROM,
        sms_url: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        callback_timeout: float = 10.0,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        """``private_key``: the application's key (PEM text or path); one made per
        process when not given (see ``private_key_pem`` / ``private_key_path``)."""
        key = application_key(private_key)
        tls = tls_files()
        self.application_id = application_id
        self.api_key = api_key
        self.api_secret = api_secret
        self.signature_secret = signature_secret
        self.signature_method = signature_method
        self.from_number = from_number
        self.private_key_pem = key.private_pem
        self.private_key_path = key.private_path
        self.ca_path = tls.ca_path
        self.fake = FakeVonage(
            public_key=key.public_pem,
            application_id=application_id,
            api_key=api_key,
            api_secret=api_secret,
            signature_secret=signature_secret,
            signature_method=signature_method,
            from_number=from_number,
            sms_url=sms_url,
            callback_timeout=callback_timeout,
            now=now,
        )
        self._host = host
        self._server = ServerThread(
            create_vonage_app(self.fake), host, port, ssl_certfile=tls.cert_path
        )

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: both of Vonage's hosts (``api_host``, ``rest_host``)."""
        return f"{self._host}:{self._server.port}"

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT`` (the control API and phone page are here too)."""
        return self._server.url

    def start(self) -> FakeVonageServer:
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving (REST now fails as if Vonage were unreachable), then the outbox."""
        self._server.stop()
        self.fake.close()

    def stop_http(self) -> None:
        """Stop only the HTTP side: our service sees Vonage as down, the state stays."""
        self._server.stop()

    def __enter__(self) -> FakeVonageServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def provider(
        self,
        *,
        api_secret: str | None = None,
        private_key: str | None = None,
        application_id: str | None = None,
        timeout: float = 5.0,
    ) -> VonageProvider:
        """The production provider, pointed at this server (and trusting its CA)."""
        return VonageProvider(
            application_id=application_id or self.application_id,
            private_key=private_key or self.private_key_pem,
            api_key=self.api_key,
            api_secret=api_secret or self.api_secret,
            signature_secret=self.signature_secret,
            from_number=self.from_number,
            api_host=self.host,
            rest_host=self.host,
            ca_bundle=self.ca_path,
            timeout=timeout,
        )

    def settings(self) -> dict[str, str]:
        """What a service needs to page through this fake: ``SAMENOP_*`` variables."""
        return {
            "SAMENOP_VONAGE_API_HOST": self.host,
            "SAMENOP_VONAGE_REST_HOST": self.host,
            "SAMENOP_VONAGE_CA_BUNDLE": self.ca_path,
            "SAMENOP_VONAGE_APPLICATION_ID": self.application_id,
            "SAMENOP_VONAGE_PRIVATE_KEY": self.private_key_path,
            "SAMENOP_VONAGE_API_KEY": self.api_key,
            "SAMENOP_VONAGE_API_SECRET": self.api_secret,
            "SAMENOP_VONAGE_SIGNATURE_SECRET": self.signature_secret,
            "SAMENOP_VONAGE_FROM": self.from_number,
        }

    def face(self) -> Face:
        """This face's phones, for the Twilio face's phone page (one page for both)."""
        return Face(self.fake.name, self.fake.snapshot, create_control_app(self.fake))

    # The expectation layer, at hand on the fixture itself.
    def expect_call(self, to: str, *, timeout: float = 5.0) -> VonageCall:
        return self.fake.expect_call(to, timeout=timeout)

    def expect_sms(
        self, to: str, contains: str | None = None, *, timeout: float = 5.0
    ) -> VonageMessage:
        return self.fake.expect_sms(to, contains, timeout=timeout)

    def assert_nothing_unexpected(self) -> None:
        self.fake.assert_nothing_unexpected()
