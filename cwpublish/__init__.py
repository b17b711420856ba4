"""cwpublish: publish rCloud billable backup space to ConnectWise PSA."""

__version__ = "0.1.0"
