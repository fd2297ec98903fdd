"""Reading the TwiML our service answers with, as Twilio's interpreter would.

Kept free of I/O so the fake's call flow can be followed verb by verb: the state module
fetches documents, this module only turns text into verbs and resolves URLs the way
Twilio does (relative to the document they came from).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urljoin


class TwimlError(ValueError):
    """The answer is not TwiML Twilio could run (Twilio error 12100, document parse failure)."""


@dataclass(frozen=True)
class Verb:
    name: str
    text: str = ""
    attrs: dict[str, str] = field(default_factory=dict)
    children: tuple[Verb, ...] = ()


def _verb(element: ET.Element) -> Verb:
    return Verb(
        name=element.tag,
        text=" ".join("".join(element.itertext()).split()),
        attrs=dict(element.attrib),
        children=tuple(_verb(child) for child in element),
    )


def parse(document: str) -> list[Verb]:
    """The verbs of a ``<Response>`` document, in order."""
    try:
        root = ET.fromstring(document.strip())
    except ET.ParseError as exc:
        raise TwimlError(f"not XML: {exc}") from exc
    if root.tag != "Response":
        raise TwimlError(f"root element is <{root.tag}>, expected <Response>")
    return [_verb(child) for child in root]


def sms_replies(document: str) -> list[str]:
    """The ``<Message>`` texts of a messaging answer; an empty body means no reply."""
    if not document.strip():
        return []
    texts: list[str] = []
    for verb in parse(document):
        if verb.name != "Message":
            continue
        bodies = [child.text for child in verb.children if child.name == "Body"]
        texts.append(bodies[0] if bodies else verb.text)
    return texts


def resolve(base_url: str, target: str | None) -> str:
    """Twilio resolves ``action`` and ``<Redirect>`` URLs against the current document."""
    return urljoin(base_url, target) if target else base_url


def int_attr(attrs: dict[str, str], name: str, default: int | None) -> int | None:
    try:
        return int(attrs[name])
    except (KeyError, ValueError):
        return default
