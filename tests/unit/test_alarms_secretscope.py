"""Deploy-time check that every secret reference of the config is readable by the stack's roles."""

from __future__ import annotations

from uptime_relay.config.loader import parse_config
from uptime_relay.secretscope import SecretScope, out_of_scope, references, refusal

SCOPE = SecretScope("/uptime/", "uptime/", region="us-east-1", account="123456789012")

CONFIG = """
checks:
  - name: api
    url: https://api.example.com/health
    headers: {Authorization: ssm:/team/api-token, X-Plain: hello}
channels:
  pd: {type: pagerduty, routing_key: ssm:/team/pd, webhook_secret: secretsmanager:uptime/pd-hook}
  ops: {type: slack, webhook_url: ssm:/uptime/slack}
  mail:
    type: email
    to: ops@example.com
    from: uptime@example.com
    smtp: {host: smtp.example.com, username: env:SMTP_USER, password: secretsmanager:mail/smtp}
routes:
  - {match: {}, notify: [pd, ops, mail]}
slack:
  signing_secret: ssm:/slack/signing
"""


def test_it_finds_every_reference_in_channels_check_headers_and_slack():
    refs = dict(references(parse_config(CONFIG, "c.yaml")))
    assert refs == {
        "checks[api].headers.Authorization": "ssm:/team/api-token",
        "channels.pd.routing_key": "ssm:/team/pd",
        "channels.pd.webhook_secret": "secretsmanager:uptime/pd-hook",
        "channels.ops.webhook_url": "ssm:/uptime/slack",
        "channels.mail.smtp.username": "env:SMTP_USER",
        "channels.mail.smtp.password": "secretsmanager:mail/smtp",
        "slack.signing_secret": "ssm:/slack/signing",
    }


def test_it_lists_every_reference_outside_the_prefixes_and_says_what_is_allowed():
    offending = out_of_scope(references(parse_config(CONFIG, "c.yaml")), SCOPE)
    assert [o.where for o in offending] == [
        "checks[api].headers.Authorization",
        "channels.pd.routing_key",
        "channels.mail.smtp.username",
        "channels.mail.smtp.password",
        "slack.signing_secret",
    ]
    reason = refusal(offending, SCOPE)
    assert reason.startswith("5 secret reference(s) the stack cannot read: ")
    assert "channels.pd.routing_key: ssm:/team/pd (not below SecretsSsmPrefix /uptime/)" in reason
    assert "ssm:/uptime/... (SecretsSsmPrefix)" in reason
    assert "secretsmanager:uptime/... (SecretsManagerPrefix)" in reason


def test_a_config_inside_the_prefixes_passes():
    config = parse_config(
        "channels:\n  pd: {type: pagerduty, routing_key: secretsmanager:uptime/pd}\n"
        "  ops: {type: slack, webhook_url: 'https://hooks.slack.com/services/T/B/X'}\n"
        "slack: {signing_secret: ssm:/uptime/slack-signing}\n",
        "c.yaml",
    )
    assert out_of_scope(references(config), SCOPE) == []


def test_a_prefix_is_a_path_prefix_not_a_name_prefix():
    # /uptime-staging/x is not below /uptime/ even though the strings share "/uptime"
    assert SCOPE.problem("ssm:/uptime-staging/x") == "not below SecretsSsmPrefix /uptime/"
    assert SCOPE.problem("ssm:/uptime/team/x") is None


def test_env_references_are_refused_in_the_deployed_stack():
    assert "local runs" in SCOPE.problem("env:PAGERDUTY_KEY")


def test_secret_arns_are_checked_by_name_region_and_account():
    arn = "secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:uptime/pd-AbCdEf"
    assert SCOPE.problem(arn) is None
    assert "does not start with" in SCOPE.problem(arn.replace("uptime/pd", "team/pd"))
    assert "Region eu-west-1" in SCOPE.problem(arn.replace("us-east-1", "eu-west-1"))
    assert "account 999999999999" in SCOPE.problem(arn.replace("123456789012", "999999999999"))


def test_literals_are_not_references():
    assert SCOPE.problem("https://hooks.slack.com/services/T/B/X") is None
