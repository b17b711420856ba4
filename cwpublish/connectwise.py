"""SOAP client for the three ConnectWise Managed Device API operations cwpublish uses.

zeep reads the bundled WSDL (or the site's live `?wsdl` when asked), so no large WSDL is fetched
on every run; the binding is pointed at `{site}{api_path}`. Every call has a time-out, XML DTDs
and entities are refused, and every failure becomes a ConnectWiseError whose text never holds
the password.
"""

from __future__ import annotations

from importlib import resources
from urllib.parse import urlsplit

from cwpublish import log
from cwpublish.config import ConnectWise
from cwpublish.envelope import (
    NAMESPACE,
    UPDATE_HEADERS,
    DeviceUpdate,
    soap_headers,
    update_envelope,
)
from cwpublish.errors import ConnectWiseError

TRANSIENT_HTTP = (429, 502, 503, 504)
MAX_RESPONSE = 16 * 2**20  # bytes; a real answer is far smaller
BINDING = f"{{{NAMESPACE}}}ManagedDeviceApiSoap"

MAX_ERROR_TEXT = 300


def bundled_wsdl() -> str:
    return str(resources.files("cwpublish") / "wsdl" / "ManagedDeviceApi.wsdl")


def redact(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` masked."""
    return text.replace(secret, "********") if secret else text


class ConnectWiseClient:
    """One partner's ConnectWise site, logged in with its integrator credentials."""

    def __init__(self, cw: ConnectWise, password: str):
        import requests
        from zeep import Client, Settings

        self.cw = cw
        self._password = password
        session = requests.Session()
        session.verify = cw.ca_bundle or True
        session.headers["User-Agent"] = "cwpublish"
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
        wsdl = cw.endpoint + "?wsdl" if cw.wsdl == "live" else bundled_wsdl()
        self._client = self._call(
            "WSDL", lambda: Client(wsdl, transport=transport, settings=settings)
        )
        self._service = self._client.create_service(BINDING, cw.endpoint)

    def close(self) -> None:
        self._client.transport.session.close()

    def credentials(self) -> dict:
        return {
            "CompanyId": self.cw.company_id,
            "IntegratorLoginId": self.cw.integrator_username,
            "IntegratorPassword": self._password,
        }

    def management_it_name(self) -> str:
        """GetManagementItSetupsName: proves site, login and Management IT Name in one call."""
        result = self._call(
            "GetManagementItSetupsName",
            lambda: self._service.GetManagementItSetupsName(
                credentials=self.credentials(), managementSolutionName=self.cw.management_it_name
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
            managementSolutionName=self.cw.management_it_name,
            managementItSetupName=self.cw.management_it_name,
        )
        binding = self._service._binding
        headers = soap_headers("GetManagedGroup")

        def call():
            transport = self._client.transport
            response = transport.post_xml(self.cw.endpoint, envelope, headers)
            if response.status_code != 200:  # a fault: zeep raises it
                return binding.process_reply(self._client, binding.get("GetManagedGroup"), response)
            doc = parse_xml(response.content, transport, settings=self._client.settings)
            found = doc.iterfind(f".//{{{NAMESPACE}}}ManagedGroup/{{{NAMESPACE}}}GroupIdentifier")
            return {(el.text or "").strip() for el in found} - {""}

        return self._call("GetManagedGroup", call) or set()

    def update_devices(self, devices: list[DeviceUpdate]) -> str | None:
        """UpdateManagedDevices for a batch; the error text ConnectWise returned, or None.

        The body is built with lxml (update_envelope), ~17x faster than zeep's generic
        serializer for the device array; zeep still sends it and reads the answer and faults.
        """
        envelope = update_envelope(self.cw, self._password, devices)
        binding = self._service._binding

        def call():
            response = self._client.transport.post_xml(self.cw.endpoint, envelope, UPDATE_HEADERS)
            return binding.process_reply(
                self._client, binding.get("UpdateManagedDevices"), response
            )

        text = (self._call("UpdateManagedDevices", call) or "").strip()
        return redact(text, self._password)[:MAX_ERROR_TEXT] if text else None

    def _call(self, operation: str, call):
        """Run a call; retry transient failures with exponential backoff and jitter.

        Connection errors, time-outs, HTTP 429/502/503/504 are retried, at most `retries`
        times and never past `retry_max_seconds`; SOAP faults and other HTTP errors are not.
        Re-sending an update is harmless: it is keyed by Managed ID and DeviceIdentifier.
        """
        import random
        import time

        started = time.monotonic()
        attempt = 1
        while True:
            try:
                return self._guard(operation, call)
            except ConnectWiseError as e:
                if not e.transient or attempt > self.cw.retries:
                    raise e.after(attempt) from None
                delay = e.retry_after
                if delay is None:
                    delay = self.cw.retry_backoff * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
                if time.monotonic() - started + delay > self.cw.retry_max_seconds:
                    raise e.after(attempt) from None
                log.info(
                    "%s; retrying in %.1fs (attempt %d of %d)",
                    e,
                    delay,
                    attempt + 1,
                    self.cw.retries + 1,
                )
                time.sleep(delay)
                attempt += 1

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
                raise ConnectWiseError(
                    operation,
                    f"{host} answered HTTP {code} with "
                    f"{e.content_type}, not SOAP (a proxy or login page?)",
                    kind="response",
                    http_status=code,
                ) from None
            what = {
                401: "unauthorized",
                403: "forbidden",
                404: "not found (check api_path)",
                429: "too many requests",
                502: "bad gateway",
                503: "service unavailable",
                504: "gateway time-out",
            }.get(code, "error")
            page = " (an HTML page)" if isinstance(e, NotSoap) and "html" in e.content_type else ""
            raise ConnectWiseError(
                operation,
                f"HTTP {code} {what} from {host}{page}",
                kind="http",
                http_status=code,
                transient=code in TRANSIENT_HTTP,
                retry_after=e.retry_after if isinstance(e, NotSoap) else None,
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
        except requests.exceptions.SSLError:
            raise ConnectWiseError(
                operation,
                f"TLS certificate of {host} could not be verified "
                "(for a private CA set connectwise.ca_bundle)",
            ) from None
        except requests.exceptions.Timeout:
            raise ConnectWiseError(
                operation, f"{host} did not answer within {self.cw.timeout:g}s", transient=True
            ) from None
        except requests.exceptions.ConnectionError as e:
            raise ConnectWiseError(
                operation, f"cannot connect to {host}: {_reason(e)}", transient=True
            ) from None
        except ResponseTooLarge as e:
            raise ConnectWiseError(
                operation,
                f"{host} answered with more than {e.limit // 2**20} MiB; refused",
                kind="response",
            ) from None
        except requests.exceptions.RequestException as e:
            raise ConnectWiseError(
                operation, f"request to {host} failed ({type(e).__name__})"
            ) from None


class NotSoap(Exception):
    """The server answered, but not with SOAP (a proxy's HTML page, a bare HTTP error)."""

    def __init__(self, status: int, content_type: str, retry_after: float | None = None):
        self.status = status
        self.content_type = content_type
        self.retry_after = retry_after


class ResponseTooLarge(Exception):
    def __init__(self, limit: int):
        self.limit = limit


def _checked_transport():
    """zeep's Transport, reading at most MAX_RESPONSE bytes and refusing answers that cannot be
    SOAP before zeep parses them."""
    from zeep.transports import Transport

    class CheckedTransport(Transport):
        # `verify` is passed on every request: requests would otherwise let REQUESTS_CA_BUNDLE
        # from the environment override the session's ca_bundle.
        def post(self, address, message, headers):
            response = self.session.post(
                address,
                data=message,
                headers=headers,
                timeout=self.operation_timeout,
                stream=True,
                verify=self.session.verify,
            )
            body = bytearray()
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > MAX_RESPONSE:
                    response.close()
                    raise ResponseTooLarge(MAX_RESPONSE)
            response._content = bytes(body)
            ctype = response.headers.get("Content-Type", "")
            if response.status_code not in (200, 500) or "xml" not in ctype.lower():
                raise NotSoap(
                    response.status_code,
                    ctype.split(";")[0] or "no content type",
                    _retry_after(response.headers.get("Retry-After")),
                )
            return response

        def _load_remote_data(self, url):  # the live ?wsdl
            response = self.session.get(url, timeout=self.load_timeout, verify=self.session.verify)
            with response:
                response.raise_for_status()
                return response.content

    return CheckedTransport


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), capped at 10 min."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            from datetime import UTC, datetime

            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return max(0.0, min(seconds, 600.0))


def _reason(e: Exception) -> str:
    text = str(e)
    for known in (
        "Connection refused",
        "Name or service not known",
        "Connection reset",
        "Remote end closed connection",
        "No route to host",
        "timed out",
    ):
        if known in text:
            return known.lower()
    return type(e).__name__
