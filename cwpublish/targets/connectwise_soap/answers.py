"""Reading ConnectWise's successful SOAP answers with lxml; zeep reads the faults (client.py).

A success is an Envelope whose Body holds `{operation}Response`, and that element holds at most
its `{operation}Result`: anything else is refused, never taken as a success (as zeep's strict
mode refuses it). The parse is hardened as zeep's is: no DTD, no entities, no network, no
huge trees. Reading a success this way spares the publish zeep's import and object mapping.
lxml is imported on first use: the package is imported by the nightly no-op too.
"""

from __future__ import annotations

from cwpublish.targets.connectwise_soap.envelope import NAMESPACE, SOAP_ENV

_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


class NotXml(Exception):
    """An HTTP 200 answer whose body does not parse as XML."""


class XmlRefused(Exception):
    """An answer declaring a DTD or entities (a possible XXE attack)."""


class WrongAnswer(Exception):
    """A well-formed SOAP answer that is not the answer to the call made (an empty Body,
    another operation's response): never taken as a success."""

    def __init__(self, expected: str):
        self.expected = expected


class OddAnswer(Exception):
    """The right response element, holding something the WSDL does not allow."""

    def __init__(self, what: str):
        self.what = what


def _parser():
    from lxml import etree

    return etree.XMLParser(
        remove_comments=True,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    )


def response_element(content: bytes, operation: str):
    """The Body's `{operation}Response` element of a success answer, or one of the errors
    above."""
    from lxml import etree

    try:
        root = etree.fromstring(content, _parser())
    except etree.XMLSyntaxError:
        raise NotXml() from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise XmlRefused()
    expected = f"{operation}Response"
    body = root.find(f"{{{SOAP_ENV}}}Body") if root.tag == f"{{{SOAP_ENV}}}Envelope" else None
    first = next((el for el in body if isinstance(el.tag, str)), None) if body is not None else None
    if first is None or first.tag != f"{{{NAMESPACE}}}{expected}":
        raise WrongAnswer(expected)
    return first


def result_text(content: bytes, operation: str) -> str | None:
    """The text of `{operation}Result` (a string in the WSDL); None when absent or nil."""
    response = response_element(content, operation)
    children = [el for el in response if isinstance(el.tag, str)]
    if not children:
        return None
    result = children[0]
    if len(children) > 1 or result.tag != f"{{{NAMESPACE}}}{operation}Result":
        raise OddAnswer(f"unexpected element {children[-1].tag.rsplit('}', 1)[-1]}")
    if any(isinstance(el.tag, str) for el in result):
        raise OddAnswer(f"elements inside {operation}Result")
    if result.get(_XSI_NIL) in ("true", "1"):
        return None
    return result.text or ""


def group_identifiers(content: bytes) -> set[str]:
    """GetManagedGroup's answer: the GroupIdentifier of every ManagedGroup (blank ones
    dropped)."""
    response = response_element(content, "GetManagedGroup")
    found = response.iterfind(
        f"{{{NAMESPACE}}}GetManagedGroupResult/{{{NAMESPACE}}}ManagedGroup"
        f"/{{{NAMESPACE}}}GroupIdentifier"
    )
    return {(el.text or "").strip() for el in found} - {""}
