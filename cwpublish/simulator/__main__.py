"""`python -m cwpublish.simulator serve|show`: run the simulator, or print what it received.

`serve` without --data serves the built-in sample tenant (sample.yaml, shipped inside the
package, equal to demo/simulator.yaml), so it works from an installed package too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from cwpublish.simulator.server import SimulatorServer, format_configuration_tab


def build_parser() -> argparse.ArgumentParser:
    """The `serve` and `show` commands and their options (each with its help)."""
    parser = argparse.ArgumentParser(
        prog="python -m cwpublish.simulator",
        description="A local ConnectWise site: Managed Device API (SOAP) and REST API v3.0",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the simulator until interrupted")
    serve.add_argument(
        "--data",
        metavar="FILE",
        help="YAML file of tenants and companies (default: the built-in sample tenant 'acme')",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: loopback only)"
    )
    serve.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    serve.add_argument(
        "--latency-ms", type=float, default=0, help="added to every SOAP and REST answer"
    )
    serve.add_argument(
        "--port-file", metavar="FILE", help="write the chosen port here once listening"
    )
    serve.add_argument("--certfile", help="serve HTTPS with this certificate (PEM)...")
    serve.add_argument("--keyfile", help="...and this private key (PEM)")
    show = sub.add_parser("show", help="print what a running simulator has received")
    show.add_argument(
        "--url", default="http://127.0.0.1:8765", help="the simulator's URL (default: %(default)s)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until interrupted (`serve`), or print a running one's records."""
    args = build_parser().parse_args(argv)
    source = getattr(args, "data", None) or "the built-in sample"
    if args.command == "show":
        from urllib.request import urlopen

        try:
            with urlopen(f"{args.url}/_sim/state", timeout=10) as resp:  # noqa: S310 - loopback
                print(format_configuration_tab(json.load(resp)))
        except (OSError, ValueError) as e:
            print(f"error: {args.url}: no simulator answered ({e})", file=sys.stderr)
            return 1
        return 0
    try:
        data = load_data(args.data)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        print(f"error: {source}: {e}", file=sys.stderr)
        return 2
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
        print(f"error: {source}: {e}", file=sys.stderr)
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


def load_data(path: str | None) -> dict:
    """The tenants from `path`, or the built-in sample; ValueError for a file that is not a
    YAML mapping (said in one line, never a traceback)."""
    import yaml

    if path is None:
        from importlib import resources

        text = (resources.files("cwpublish.simulator") / "sample.yaml").read_text("utf-8")
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise OSError(e.strerror or str(e)) from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ValueError("must be a mapping with a `tenants` list")
    return data


if __name__ == "__main__":
    sys.exit(main())
