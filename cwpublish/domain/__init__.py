"""The publish record and the rules it follows, as pure types and functions: periods, the
schedule rule, status and exit codes, advice, invoices. The bottom layer: imports only errors."""
