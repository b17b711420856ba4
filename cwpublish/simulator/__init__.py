"""A local ConnectWise Managed Device API: rehearse a configuration, and run the tests.

A real HTTP server on loopback that serves the WSDL and answers GetManagementItSetupsName,
GetManagedGroup and UpdateManagedDevices with ConnectWise's rules, from a small YAML file of
tenants (login, Management IT names, companies with Managed IDs and device types). It reads a
ManagedDevice's fields in sequence order, as ASP.NET's XmlSerializer does, so a field sent out
of order is ignored. An UpdateManagedDevices call with any bad device applies none of them
(the source document: a wrong Managed ID means the usage is not published).

    python -m cwpublish.simulator serve --data examples/simulator.yaml --port 8765
    python -m cwpublish.simulator show --url http://127.0.0.1:8765

Control endpoints (JSON): GET /_sim/state, POST /_sim/faults (a list of fault rules),
POST /_sim/reset. A fault rule: {"operation": "UpdateManagedDevices", "times": 2, "after": 0,
"http_status": 503 | "soap_fault": "text" | "result_text": "text" | "html": true,
"delay": 0.5, "drop": true, "retry_after": 1, "raw": "<xml/>", "huge_mib": 20}.
GET / shows the "Configuration tab" of every company.
"""

from cwpublish.simulator.server import (
    SimulatorServer,
    format_configuration_tab,
    render_configuration_tab,
)
from cwpublish.simulator.site import SimulatedConnectWise

__all__ = [
    "SimulatedConnectWise",
    "SimulatorServer",
    "format_configuration_tab",
    "render_configuration_tab",
]
