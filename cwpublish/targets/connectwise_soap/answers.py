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


class FaultAnswer(Exception):
    """A Fault in the Body of an HTTP 200 answer: zeep reads it (client.py), as on a 500."""


class WrongAnswer(Exception):
    """A well-formed SOAP answer that is not the answer to the call made (an empty Body,
    another operation's response): never taken as a success."""

    def __init__(self, expected: str):
        self.expected = expected


class OddAnswer(Exception):
    """The right response element, holding something the WSDL does not allow."""

    def __init__(self, what: str):
        self.what = what


def _local(tag: str) -> str:
    """An element's local name as the server wrote it, cut short (it goes into an error)."""
    return tag.rsplit("}", 1)[-1][:60]


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
    """The `{operation}Response` element of a success answer: the one element of the one Body.
    A Fault anywhere in a Body raises FaultAnswer; anything else raises one of the errors above."""
    from lxml import etree

    try:
        root = etree.fromstring(content, _parser())
    except etree.XMLSyntaxError:
        raise NotXml() from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise XmlRefused()
    expected = f"{operation}Response"
    if root.tag != f"{{{SOAP_ENV}}}Envelope":
        raise WrongAnswer(expected)
    bodies = root.findall(f"{{{SOAP_ENV}}}Body")
    if any(body.find(f"{{{SOAP_ENV}}}Fault") is not None for body in bodies):
        raise FaultAnswer()
    found = [el for el in bodies[0] if isinstance(el.tag, str)] if len(bodies) == 1 else []
    if len(found) != 1 or found[0].tag != f"{{{NAMESPACE}}}{expected}":
        raise WrongAnswer(expected)
    return found[0]


def _result(response, operation: str):
    """The response's `{operation}Result` element (None when absent); nothing else allowed."""
    children = [el for el in response if isinstance(el.tag, str)]
    if not children:
        return None
    if len(children) > 1 or children[0].tag != f"{{{NAMESPACE}}}{operation}Result":
        raise OddAnswer(f"unexpected element {_local(children[-1].tag)}")
    return children[0]


def result_text(content: bytes, operation: str) -> str | None:
    """The text of `{operation}Result` (a string in the WSDL); None when absent, or nil and
    empty (a nil Result with text gives its text: an error is never hidden)."""
    result = _result(response_element(content, operation), operation)
    if result is None:
        return None
    if any(isinstance(el.tag, str) for el in result):
        raise OddAnswer(f"elements inside {operation}Result")
    text = result.text or ""
    if result.get(_XSI_NIL) in ("true", "1") and not text.strip():
        return None
    return text


def group_identifiers(content: bytes, operation: str = "GetManagedGroup") -> set[str]:
    """GetManagedGroup's answer: the GroupIdentifier of every ManagedGroup (blank ones
    dropped); a Result holding anything but ManagedGroup elements is refused."""
    result = _result(response_element(content, operation), operation)
    if result is None:
        return set()
    ids = set()
    for group in result:
        if not isinstance(group.tag, str):
            continue
        if group.tag != f"{{{NAMESPACE}}}ManagedGroup":
            raise OddAnswer(f"unexpected element {_local(group.tag)}")
        ids.add((group.findtext(f"{{{NAMESPACE}}}GroupIdentifier") or "").strip())
    return ids - {""}
