"""SOAP client for the three ConnectWise Managed Device API operations cwpublish uses.

Bodies are written from templates (envelope.py) and successes read with lxml (answers.py),
both proven equal to zeep's reading of the WSDL by tests; zeep itself is loaded only when it
has work: a fault to read, or the site's live `?wsdl` to check. Every call has a deadline, XML
DTDs and entities are refused, and every failure becomes a ConnectWiseError whose text never
holds the password.
"""

from __future__ import annotations

import threading
from importlib import resources
from urllib.parse import urlsplit

from cwpublish.config.model import ConnectWise
from cwpublish.domain.record import UsageRecord
from cwpublish.errors import ConnectWiseError
from cwpublish.targets.connectwise_soap import answers
from cwpublish.targets.connectwise_soap.answers import (
    FaultAnswer,
    NotXml,
    OddAnswer,
    WrongAnswer,
    XmlRefused,
)
from cwpublish.targets.connectwise_soap.envelope import (
    NAMESPACE,
    preflight_body,
    soap_headers,
    update_body,
)
from cwpublish.targets.connectwise_soap.settings import endpoint
from cwpublish.targets.http import (
    DeadlineExceeded,
    Redirected,
    ResponseTooLarge,
    http_error,
    new_session,
    retry_after,
    send,
    transport_error,
)
from cwpublish.targets.retry import with_retries
from cwpublish.text.redaction import clean_line

BINDING = f"{{{NAMESPACE}}}ManagedDeviceApiSoap"
OPERATIONS = ("GetManagementItSetupsName", "GetManagedGroup", "UpdateManagedDevices")
# What zeep raises when an answer parses but does not map (an empty Body, a stray element).
_ODD_ANSWER = (ValueError, TypeError, AttributeError, IndexError, KeyError, SyntaxError)
MAX_ERROR_TEXT = 300


_parsed: dict[str, object] = {}
_parsing = threading.Lock()


def _bundled_document(transport, settings):
    """The bundled WSDL as a zeep Document, parsed once per process."""
    from zeep.wsdl import Document

    with _parsing:
        if "bundled" not in _parsed:
            _parsed["bundled"] = Document(bundled_wsdl(), transport, settings=settings)
        return _parsed["bundled"]


def bundled_wsdl() -> str:
    return str(resources.files(__package__) / "wsdl" / "ManagedDeviceApi.wsdl")


class ConnectWiseClient:
    """One partner's ConnectWise site, logged in with its integrator credentials."""

    def __init__(self, cw: ConnectWise, password: str):
        self.cw = cw
        self.soap = cw.settings
        self.endpoint = endpoint(cw)
        self._password = password
        self.session = new_session(cw)
        self._zeep_lock = threading.Lock()
        self._zeep_pair = None
        if self.soap.wsdl == "live":  # the site's own WSDL must load and bind what we send
            self.zeep()

    def zeep(self):
        """(zeep Client, service) for this site, built on first need and kept."""
        with self._zeep_lock:
            if self._zeep_pair is None:
                self._zeep_pair = self._call("WSDL", self._new_zeep)
            return self._zeep_pair

    def _new_zeep(self):
        from zeep import Client, Settings

        transport = _checked_transport()(
            session=self.session, timeout=self.cw.timeout, operation_timeout=self.cw.timeout
        )
        settings = Settings(
            strict=True,
            xml_huge_tree=False,
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        )
        if self.soap.wsdl == "live":
            wsdl = self.endpoint + "?wsdl"
        else:  # parsed once per process, shared by every partner (read-only after parsing)
            wsdl = _bundled_document(transport, settings)
        client = Client(wsdl, transport=transport, settings=settings)
        service = client.create_service(BINDING, self.endpoint)
        for operation in OPERATIONS:  # a live WSDL without one of them: ValueError here
            service._binding.get(operation)
        return client, service

    def close(self) -> None:
        self.session.close()

    def credentials(self) -> dict:
        return {
            "CompanyId": self.cw.company_id,
            "IntegratorLoginId": self.soap.integrator_username,
            "IntegratorPassword": self._password,
        }

    def management_it_name(self) -> str:
        """GetManagementItSetupsName: proves site, login and Management IT Name in one call."""
        operation = "GetManagementItSetupsName"
        body = preflight_body(self.cw, self._password, operation)
        answer = self._call(
            operation, lambda: self._post(operation, body, answers.result_text)
        )
        return (answer or "").strip()

    def managed_ids(self) -> set[str]:
        """GetManagedGroup: the Managed IDs that companies configured for this solution."""
        operation = "GetManagedGroup"
        body = preflight_body(self.cw, self._password, operation)
        return self._call(
            operation,
            lambda: self._post(operation, body, answers.group_identifiers),
        )

    def update_devices(self, devices: list[UsageRecord]) -> str | None:
        """UpdateManagedDevices for a batch; the error text ConnectWise returned, or None.

        The body is written directly as bytes (envelope.update_body: byte-for-byte what zeep
        serializes, ~170x cheaper than zeep's generic serializer).
        """
        operation = "UpdateManagedDevices"
        body = update_body(self.cw, self._password, devices)

        text = (self._call(operation, lambda: self._post(operation, body, answers.result_text))
                or "").strip()
        return clean_line(text, MAX_ERROR_TEXT, self._password) if text else None

    def _post(self, operation: str, body: bytes, read):
        """POST one call; `read(content, operation)` of a success (HTTP 200). A fault (a 500,
        or a Fault in a 200) is read by zeep, which raises it; an answer that cannot be SOAP
        raises NotSoap."""
        response = _checked_post(
            self.session, self.endpoint, body, soap_headers(operation), self.cw.timeout
        )
        if response.status_code == 200:
            try:
                return read(response.content, operation)
            except FaultAnswer:
                pass
        client, service = self.zeep()
        binding = service._binding
        try:
            binding.process_reply(client, binding.get(operation), response)  # raises the Fault
        except Exception as e:
            if self._failure(operation, e) is None:  # zeep failing on it: the answer is odd
                raise OddAnswer(type(e).__name__) from None
            raise
        raise WrongAnswer(f"{operation}Response")  # an answer zeep did not take as a fault

    def _call(self, operation: str, call):
        """Run a call through the shared retry policy (transient failures retried)."""
        return with_retries(self.cw, lambda: self._guard(operation, call))

    def _guard(self, operation: str, call):
        """Run a call, turning every failure into a ConnectWiseError without secrets."""
        try:
            return call()
        except Exception as e:
            failure = self._failure(operation, e)
            if failure is None:
                raise
            raise failure from None

    def _failure(self, operation: str, e: Exception) -> ConnectWiseError | None:
        """The ConnectWiseError for a failed call, or None for a bug of ours (re-raised)."""
        import sys

        import requests

        host = urlsplit(self.cw.site).hostname

        def answered(what: str, code: int | None = None) -> ConnectWiseError:
            text = clean_line(f"{host} answered {what}", MAX_ERROR_TEXT, self._password)
            return ConnectWiseError(operation, text, kind="response", http_status=code)

        not_expected = "with something that is not the expected SOAP response"
        # zeep is loaded only for faults and the live WSDL: if it is not, it raised nothing.
        zx = sys.modules.get("zeep.exceptions")
        if zx and isinstance(e, zx.Fault):
            message = clean_line(str(e.message or "no fault text"), MAX_ERROR_TEXT, self._password)
            return ConnectWiseError(operation, f"SOAP fault: {message}", kind="fault")
        if isinstance(e, NotSoap) or (zx and isinstance(e, zx.TransportError)):
            code = e.status if isinstance(e, NotSoap) else e.status_code
            if code in (200, 500):
                what = e.content_type if isinstance(e, NotSoap) else "a body that is not XML"
                return answered(f"HTTP {code} with {what}, not SOAP (a proxy or login page?)",
                                code)
            page = " (an HTML page)" if isinstance(e, NotSoap) and "html" in e.content_type else ""
            return http_error(
                operation,
                host,
                code,
                page,
                e.retry_after if isinstance(e, NotSoap) else None,
                what="not found (check api_path)" if code == 404 else None,
            )
        if isinstance(e, NotXml):
            return answered("HTTP 200 with a body that is not XML, not SOAP (a proxy or login "
                            "page?)", 200)
        if isinstance(e, XmlRefused) or (
            zx and isinstance(e, (zx.DTDForbidden, zx.EntitiesForbidden))
        ):
            return answered("with a DTD or XML entities; refused (possible XXE attack)")
        if isinstance(e, OddAnswer):
            return answered(f"{not_expected} ({e.what})")
        if isinstance(e, WrongAnswer):
            return answered(f"HTTP 200 without a {e.expected}; not taken as a success")
        if isinstance(
            e, (requests.exceptions.RequestException, ResponseTooLarge, Redirected,
                DeadlineExceeded)
        ):
            return transport_error(operation, host, self.cw.timeout, e)
        if isinstance(e, _ODD_ANSWER) or (zx and isinstance(e, zx.Error)):
            # zeep meeting an answer it cannot map (an empty Body, a stray element), a live
            # WSDL without our operations: the answer is wrong, not our code.
            return answered(f"{not_expected} ({type(e).__name__})")
        return None


class NotSoap(Exception):
    """The server answered, but not with SOAP (a proxy's HTML page, a bare HTTP error)."""

    def __init__(self, status: int, content_type: str, retry_after: float | None = None):
        self.status = status
        self.content_type = content_type
        self.retry_after = retry_after


def _checked_post(session, address: str, body: bytes, headers: dict, deadline: float):
    """POST through the hardened session (no redirects, a total deadline, at most
    MAX_RESPONSE bytes); an answer that cannot be SOAP is refused before anything parses it."""
    response = send(session, "POST", address, deadline, data=body, headers=headers)
    ctype = response.headers.get("Content-Type", "")
    media = ctype.split(";")[0].strip().lower()  # text/xml, application/soap+xml; not multipart
    if response.status_code not in (200, 500) or not media.endswith("xml"):
        raise NotSoap(
            response.status_code,
            ctype.split(";")[0] or "no content type",
            retry_after(response.headers.get("Retry-After")),
        )
    if not response.content.strip():
        raise NotSoap(response.status_code, "an empty body")
    return response


def _checked_transport():
    """zeep's Transport over the hardened session, for the live `?wsdl` (calls go through
    _checked_post)."""
    from zeep.transports import Transport

    class CheckedTransport(Transport):
        def post(self, address, message, headers):
            return _checked_post(self.session, address, message, headers, self.operation_timeout)

        def _load_remote_data(self, url):  # the live ?wsdl
            response = send(self.session, "GET", url, self.load_timeout)
            if response.status_code != 200:
                raise NotSoap(response.status_code, response.headers.get("Content-Type", ""))
            return response.content

    return CheckedTransport
