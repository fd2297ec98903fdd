"""``python -m notifications.fake.vonage``: the fake Vonage as its own process.

It prints what a service needs to page through it, one ``NAME=value`` line each (the
``SAMENOP_VONAGE_*`` settings: hosts, the CA file to trust, the application's private
key file, the credentials), then a ``# ready`` line; so a test can start it as a
subprocess and read its settings, and a shell can ``export`` them. It serves until
interrupted (SIGINT or SIGTERM), then removes its key and certificate files.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from notifications.fake.records import BEHAVIOURS
from notifications.fake.vonage.harness import FakeVonageServer
from notifications.fake.vonage.state import (
    DEFAULT_API_KEY,
    DEFAULT_API_SECRET,
    DEFAULT_APPLICATION_ID,
    DEFAULT_FROM,
    DEFAULT_SIGNATURE_SECRET,
)

DEFAULT_PORT = 8011


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m notifications.fake.vonage",
        description="A local Vonage-compatible server over TLS that plays the phones.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="0: any free port")
    p.add_argument("--application-id", default=DEFAULT_APPLICATION_ID)
    p.add_argument(
        "--private-key", default=None, help="the application's key (PEM file); made if not given"
    )
    p.add_argument("--api-key", default=DEFAULT_API_KEY)
    p.add_argument("--api-secret", default=DEFAULT_API_SECRET)
    p.add_argument("--signature-secret", default=DEFAULT_SIGNATURE_SECRET)
    p.add_argument(
        "--signature-method",
        default="sha256",
        choices=["md5hash", "md5", "sha1", "sha256", "sha512"],
        help="how SMS webhooks are signed",
    )
    p.add_argument("--from-number", default=DEFAULT_FROM, help="our Vonage number")
    p.add_argument("--sms-url", default=None, help="inbound SMS webhook of the service")
    p.add_argument("--behaviour", default="manual", choices=BEHAVIOURS, help="how phones answer")
    p.add_argument("--phone", action="append", default=[], help="NUMBER[=LABEL] to show")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    server = FakeVonageServer(
        application_id=args.application_id,
        private_key=args.private_key,
        api_key=args.api_key,
        api_secret=args.api_secret,
        signature_secret=args.signature_secret,
        signature_method=args.signature_method,
        from_number=args.from_number,
        sms_url=args.sms_url,
        host=args.host,
        port=args.port,
    )
    server.fake.set_behaviour("*", args.behaviour)
    for entry in args.phone:
        number, _, label = entry.partition("=")
        server.fake.register_phone(number, label)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    try:
        for name, value in server.settings().items():
            print(f"{name}={value}")
        print(f"# ready: fake Vonage on {server.url} (phones: {server.url}/phones)", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        sys.stdout.flush()
