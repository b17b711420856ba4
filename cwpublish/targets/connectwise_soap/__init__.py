"""The SOAP Managed Device API (`connectwise.api: soap`, the default): `target.py` is the Target.

Kept empty so that validating the config (which imports `settings`) loads no transport.
"""
