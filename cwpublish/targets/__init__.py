"""Where usage is published: the registry (registry.py), the Target seam (base.py), shared
HTTP and retries, and one folder per ConnectWise API."""
