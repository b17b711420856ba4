"""`python -m cwpublish.simulator serve|show`: run the simulator, or print what it received."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cwpublish.simulator.server import SimulatorServer, format_configuration_tab


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cwpublish.simulator",
        description="A local ConnectWise site: Managed Device API (SOAP) and REST API v3.0",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the simulator until interrupted")
    serve.add_argument("--data", required=True, help="YAML file of tenants and companies")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    serve.add_argument(
        "--latency-ms", type=float, default=0, help="added to every SOAP and REST answer"
    )
    serve.add_argument("--port-file", help="write the chosen port here once listening")
    serve.add_argument("--certfile", help="serve HTTPS with this certificate (PEM)...")
    serve.add_argument("--keyfile", help="...and this private key (PEM)")
    show = sub.add_parser("show", help="print what a running simulator has received")
    show.add_argument("--url", default="http://127.0.0.1:8765")
    args = parser.parse_args(argv)
    if args.command == "show":
        from urllib.request import urlopen

        with urlopen(f"{args.url}/_sim/state", timeout=10) as resp:  # noqa: S310 - loopback
            print(format_configuration_tab(json.load(resp)))
        return 0
    import yaml

    data = yaml.safe_load(Path(args.data).read_text(encoding="utf-8")) or {}
    if args.latency_ms:
        data["latency"] = args.latency_ms / 1000
    tls = None
    if args.certfile:
        import ssl

        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.certfile, args.keyfile)
    try:
        server = SimulatorServer(data, args.host, args.port, tls)
    except ValueError as e:  # the data file breaks a rule (e.g. a REST reference to nothing)
        print(f"error: {args.data}: {e}", file=sys.stderr)
        return 2
    if args.port_file:
        Path(args.port_file).write_text(str(server.httpd.server_address[1]))
    print(f"ConnectWise simulator listening on {server.url}", file=sys.stderr, flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
