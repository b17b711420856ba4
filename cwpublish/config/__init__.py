"""The configuration: its frozen dataclasses (model), reading the YAML (fields), validating
it (validation, clients), loading it once (load, through the removable parse cache) and the
secrets it names (credentials)."""
