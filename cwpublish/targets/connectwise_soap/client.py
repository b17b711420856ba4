"""SOAP client for the three ConnectWise Managed Device API operations cwpublish uses.

zeep reads the bundled WSDL (or the site's live `?wsdl` when asked), so no large WSDL is fetched
on every run; the binding is pointed at `{site}{api_path}`. Every call has a time-out, XML DTDs
and entities are refused, and every failure becomes a ConnectWiseError whose text never holds
the password.
"""

from __future__ import annotations

import threading
from importlib import resources
from urllib.parse import urlsplit

from cwpublish.config import ConnectWise
from cwpublish.errors import ConnectWiseError
from cwpublish.redaction import redact
from cwpublish.sanitize import one_line
from cwpublish.targets.base import UsageRecord
from cwpublish.targets.connectwise_soap.envelope import (
    NAMESPACE,
    SOAP_ENV,
    UPDATE_HEADERS,
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

BINDING = f"{{{NAMESPACE}}}ManagedDeviceApiSoap"
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
        from zeep import Client, Settings

        self.cw = cw
        self.soap = cw.settings
        self.endpoint = endpoint(cw)
        self._password = password
        session = new_session(cw)
        transport = _checked_transport()(
            session=session, timeout=cw.timeout, operation_timeout=cw.timeout
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
        self._client = self._call(
            "WSDL", lambda: Client(wsdl, transport=transport, settings=settings)
        )
        self._service = self._client.create_service(BINDING, self.endpoint)

    def close(self) -> None:
        self._client.transport.session.close()

    def credentials(self) -> dict:
        return {
            "CompanyId": self.cw.company_id,
            "IntegratorLoginId": self.soap.integrator_username,
            "IntegratorPassword": self._password,
        }

    def management_it_name(self) -> str:
        """GetManagementItSetupsName: proves site, login and Management IT Name in one call."""
        result = self._call(
            "GetManagementItSetupsName",
            lambda: self._service.GetManagementItSetupsName(
                credentials=self.credentials(), managementSolutionName=self.soap.management_it_name
            ),
        )
        return (result or "").strip()

    def managed_ids(self) -> set[str]:
        """GetManagedGroup: the Managed IDs that companies configured for this solution.

        A success is read with lxml (through zeep's hardened parser): zeep's object mapping
        costs ~50 ms per 1,000 groups. Faults and errors still go through zeep.
        """
        from zeep.loader import parse_xml

        envelope = self._client.create_message(
            self._service,
            "GetManagedGroup",
            credentials=self.credentials(),
            managementSolutionName=self.soap.management_it_name,
            managementItSetupName=self.soap.management_it_name,
        )
        binding = self._service._binding
        headers = soap_headers("GetManagedGroup")

        def call():
            transport = self._client.transport
            response = transport.post_xml(self.endpoint, envelope, headers)
            if response.status_code != 200:  # a fault: zeep raises it
                return binding.process_reply(self._client, binding.get("GetManagedGroup"), response)
            doc = parse_xml(response.content, transport, settings=self._client.settings)
            found = doc.iterfind(f".//{{{NAMESPACE}}}ManagedGroup/{{{NAMESPACE}}}GroupIdentifier")
            return {(el.text or "").strip() for el in found} - {""}

        return self._call("GetManagedGroup", call) or set()

    def update_devices(self, devices: list[UsageRecord]) -> str | None:
        """UpdateManagedDevices for a batch; the error text ConnectWise returned, or None.

        The body is written directly as bytes (envelope.update_body: byte-for-byte what lxml
        would serialize, ~10x cheaper; zeep's generic serializer costs ~170x); zeep still
        sends it and reads the answer and faults.
        """
        body = update_body(self.cw, self._password, devices)
        binding = self._service._binding

        def call():
            response = self._client.transport.post(self.endpoint, body, UPDATE_HEADERS)
            return binding.process_reply(
                self._client, binding.get("UpdateManagedDevices"), response
            )

        text = (self._call("UpdateManagedDevices", call) or "").strip()
        return one_line(redact(text, self._password), MAX_ERROR_TEXT) if text else None

    def _call(self, operation: str, call):
        """Run a call through the shared retry policy (transient failures retried)."""
        return with_retries(self.cw, lambda: self._guard(operation, call))

    def _guard(self, operation: str, call):
        """Run a zeep call, turning every failure into a ConnectWiseError without secrets."""
        import requests
        from zeep import exceptions as zx

        host = urlsplit(self.cw.site).hostname
        try:
            return call()
        except zx.Fault as e:
            message = redact(str(e.message or "no fault text"), self._password)
            raise ConnectWiseError(
                operation, f"SOAP fault: {message[:MAX_ERROR_TEXT]}", kind="fault"
            ) from None
        except (zx.TransportError, NotSoap) as e:
            code = e.status if isinstance(e, NotSoap) else e.status_code
            if code in (200, 500):
                what = e.content_type if isinstance(e, NotSoap) else "a body that is not XML"
                raise ConnectWiseError(
                    operation,
                    f"{host} answered HTTP {code} with {what}, not SOAP (a proxy or login page?)",
                    kind="response",
                    http_status=code,
                ) from None
            page = " (an HTML page)" if isinstance(e, NotSoap) and "html" in e.content_type else ""
            raise http_error(
                operation,
                host,
                code,
                page,
                e.retry_after if isinstance(e, NotSoap) else None,
                what="not found (check api_path)" if code == 404 else None,
            ) from None
        except (zx.DTDForbidden, zx.EntitiesForbidden):
            raise ConnectWiseError(
                operation,
                f"{host} answered with a DTD or XML entities; refused (possible XXE attack)",
                kind="response",
            ) from None
        except (zx.XMLSyntaxError, zx.XMLParseError, zx.ValidationError, zx.LookupError) as e:
            raise ConnectWiseError(
                operation,
                f"{host} answered with something that is not the "
                f"expected SOAP response ({type(e).__name__})",
                kind="response",
            ) from None
        except (
            requests.exceptions.RequestException,
            ResponseTooLarge,
            Redirected,
            DeadlineExceeded,
        ) as e:
            raise transport_error(operation, host, self.cw.timeout, e) from None
        except WrongAnswer as e:
            raise ConnectWiseError(
                operation,
                f"{host} answered HTTP 200 without a {e.expected}; not taken as a success",
                kind="response",
            ) from None
        except (*_ODD_ANSWER, zx.Error) as e:
            # zeep meeting an answer it cannot map (an empty Body, a stray element): the
            # answer is wrong, not our code; a clean failure of this call.
            raise ConnectWiseError(
                operation,
                f"{host} answered with something that is not the expected SOAP response "
                f"({type(e).__name__})",
                kind="response",
            ) from None


class WrongAnswer(Exception):
    """A well-formed SOAP answer that is not the answer to the call made (an empty Body, another
    operation's response): never taken as a success."""

    def __init__(self, expected: str):
        self.expected = expected


def _expect_response(content: bytes, expected: str) -> None:
    """WrongAnswer unless the SOAP Body's first element is `expected` (a safe parse: no DTD,
    no entities, no network; zeep's own hardened parse follows)."""
    from lxml import etree

    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError:
        return  # zeep reports it as not XML
    body = root.find(f"{{{SOAP_ENV}}}Body")
    first = next((el for el in body if isinstance(el.tag, str)), None) if body is not None else None
    if first is None or first.tag != f"{{{NAMESPACE}}}{expected}":
        raise WrongAnswer(expected)


class NotSoap(Exception):
    """The server answered, but not with SOAP (a proxy's HTML page, a bare HTTP error)."""

    def __init__(self, status: int, content_type: str, retry_after: float | None = None):
        self.status = status
        self.content_type = content_type
        self.retry_after = retry_after


def _checked_transport():
    """zeep's Transport through the hardened session: no redirects, a total deadline per
    request, at most MAX_RESPONSE bytes, and answers that cannot be SOAP refused before zeep
    parses them."""
    from zeep.transports import Transport

    class CheckedTransport(Transport):
        def post(self, address, message, headers):
            response = send(
                self.session, "POST", address, self.operation_timeout, data=message,
                headers=headers,
            )
            ctype = response.headers.get("Content-Type", "")
            if response.status_code not in (200, 500) or "xml" not in ctype.lower():
                raise NotSoap(
                    response.status_code,
                    ctype.split(";")[0] or "no content type",
                    retry_after(response.headers.get("Retry-After")),
                )
            if not response.content.strip():
                raise NotSoap(response.status_code, "an empty body")
            if response.status_code == 200:
                action = headers.get("SOAPAction", "").strip('"').rsplit("/", 1)[-1]
                _expect_response(response.content, f"{action}Response")
            return response

        def _load_remote_data(self, url):  # the live ?wsdl
            response = send(self.session, "GET", url, self.load_timeout)
            if response.status_code != 200:
                raise NotSoap(response.status_code, response.headers.get("Content-Type", ""))
            return response.content

    return CheckedTransport
