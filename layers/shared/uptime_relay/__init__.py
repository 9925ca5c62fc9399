"""uptime-relay: a serverless uptime checker and alert relay for AWS."""

__version__ = "0.1.0"
