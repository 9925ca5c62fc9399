"""The configuration: a typed model (``config.model``) and its YAML loader (``config.loader``).

This package exports the model only, so the domain, the notifiers and the services can name
``Config``, ``Channel`` or ``parse_duration`` without loading YAML. Reading and validating a file
is ``uptime_relay.config.loader`` (``load_config``, ``parse_config``, ``default_config_path``).
"""

from .model import (
    CHANNEL_NAME_RE,
    CHECK_NAME_RE,
    DURATION_RE,
    INSUFFICIENT_DATA_MODES,
    LABEL_KEY_RE,
    SECRET_PREFIXES,
    AlarmPolicy,
    Channel,
    Check,
    Config,
    ConfigError,
    ConfigIssue,
    EscalationPolicy,
    EscalationStep,
    Expect,
    Maintenance,
    Override,
    Person,
    ProbeSettings,
    Route,
    Schedule,
    SlackSettings,
    StatusRange,
    is_secret_ref,
    parse_duration,
    secret_ref_problem,
)

__all__ = [
    "CHANNEL_NAME_RE",
    "CHECK_NAME_RE",
    "DURATION_RE",
    "INSUFFICIENT_DATA_MODES",
    "LABEL_KEY_RE",
    "SECRET_PREFIXES",
    "AlarmPolicy",
    "Channel",
    "Check",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "EscalationPolicy",
    "EscalationStep",
    "Expect",
    "Maintenance",
    "Override",
    "Person",
    "ProbeSettings",
    "Route",
    "Schedule",
    "SlackSettings",
    "StatusRange",
    "is_secret_ref",
    "parse_duration",
    "secret_ref_problem",
]
