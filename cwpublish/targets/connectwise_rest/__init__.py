"""The ConnectWise REST API v3.0 (`connectwise.api: rest`): `target.py` is the Target.

Kept empty so that validating the config (which imports `settings`) loads no transport.
"""
