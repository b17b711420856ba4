"""Cleaning text before it is shown or kept: control characters (sanitize) and secrets
(redaction). Below errors and log, which clean every message."""
