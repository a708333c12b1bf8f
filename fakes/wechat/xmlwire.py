"""The `<xml>` envelope WeChat Pay v2 speaks: flat, one element per parameter, CDATA allowed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping


class BadXml(ValueError):
    pass


def parse(body: bytes, root: str = "xml") -> dict[str, str]:
    """Parameters of a flat `<xml>` document (CDATA and plain text alike); BadXml otherwise."""
    if b"<!DOCTYPE" in body.upper():
        raise BadXml("document type declarations are refused (as WeChat refuses them)")
    try:
        element = ET.fromstring(body)
    except ET.ParseError as exc:
        raise BadXml(str(exc)) from None
    if element.tag != root:
        raise BadXml(f"root element is <{element.tag}>, not <{root}>")
    return {child.tag: child.text or "" for child in element}


def _cdata(value: str) -> str:
    # "]]>" cannot sit inside one CDATA section; split it across two.
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def render(params: Mapping[str, object], root: str = "xml") -> str:
    """A document as WeChat writes it: digits bare, other text in CDATA, `sign` last, empty
    values left out."""
    keys = sorted(k for k in params if k != "sign" and params[k] not in ("", None))
    if params.get("sign"):
        keys.append("sign")
    parts = [f"<{root}>"]
    for k in keys:
        value = str(params[k])
        parts.append(
            f"<{k}>{value if value.isascii() and value.isdigit() else _cdata(value)}</{k}>"
        )
    parts.append(f"</{root}>")
    return "".join(parts)
