"""Local stand-ins for the outside world (Slack, PagerDuty, SMTP) used by tests and the local stack."""
