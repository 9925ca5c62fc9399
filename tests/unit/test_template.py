"""template.yaml and samconfig.toml: the deployable stack, its self-monitoring and least privilege."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from uptime_relay import metricnames
from uptime_relay.config.loader import load_config
from uptime_relay.secretscope import SecretScope, out_of_scope, references
from uptime_relay_tools.local.cloudformation import MANAGED_POLICIES, load_template, translate_template

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = {
    "ProbeFunction": "functions/probe/",
    "RelayFunction": "functions/relay/",
    "EscalatorFunction": "functions/escalator/",
    "ActionsFunction": "functions/actions/",
    "AlarmsReconcilerFunction": "functions/alarms/",
}
# Actions whose API has no resource-level permissions, so Resource "*" is the only choice.
STAR_RESOURCE_ALLOWED = {
    "cloudwatch:GetMetricWidgetImage",  # no resource types
    "cloudwatch:DescribeAlarms",  # read-only listing; narrower scopes hide alarms
    "cloudwatch:GetMetricData",  # no resource types: the status page, and the relay naming a check's failing regions
    "cloudwatch:PutMetricData",  # no resource types (the probe's is bound to its namespace instead)
}
ALLOWED_MANAGED = {
    MANAGED_POLICIES["AWSLambdaBasicExecutionRole"],
    MANAGED_POLICIES["AWSXrayWriteOnlyAccess"],
}


@pytest.fixture(scope="module")
def template():
    return load_template(ROOT / "template.yaml")


@pytest.fixture(scope="module")
def resources(template):
    return template["Resources"]


@pytest.fixture(scope="module")
def translated():
    return translate_template(ROOT / "template.yaml")


def of_type(resources, kind):
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def env(template, resources, fn):
    merged = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    merged.update(resources[fn]["Properties"].get("Environment", {}).get("Variables", {}))
    return merged


def test_every_function_runs_python_313_on_arm64_from_its_folder(template, resources):
    glob = template["Globals"]["Function"]
    assert (glob["Runtime"], glob["Architectures"], glob["Handler"]) == (
        "python3.13",
        ["arm64"],
        "app.lambda_handler",
    )
    functions = of_type(resources, "AWS::Serverless::Function")
    assert {k: v["Properties"]["CodeUri"] for k, v in functions.items()} == FUNCTIONS
    assert glob["Layers"] == [{"Ref": "SharedLayer"}, {"Ref": "ConfigLayer"}]


def test_the_probe_finishes_inside_its_minute(resources):
    from uptime_relay.probe.plan import MINUTE_BUDGET_S

    probe = resources["ProbeFunction"]["Properties"]
    # a minute shard ends at its 50 s deadline, a fast shard's last round by :60; the timeout
    # only leaves a late start its room (shards of successive minutes may overlap)
    assert MINUTE_BUDGET_S < 60 < probe["Timeout"] <= 75
    assert probe["EventInvokeConfig"]["MaximumRetryAttempts"] == 0
    assert probe["EventInvokeConfig"]["MaximumEventAgeInSeconds"] == 60
    schedule = probe["Events"]["EveryMinute"]["Properties"]
    assert schedule["Schedule"] == "rate(1 minute)"
    assert schedule["RetryPolicy"]["MaximumRetryAttempts"] == 0
    escalator = resources["EscalatorFunction"]["Properties"]
    assert escalator["Events"]["EveryMinute"]["Properties"]["Schedule"] == "rate(1 minute)"
    assert escalator["Timeout"] < 60


def test_every_function_logs_to_its_own_group_with_retention(resources):
    groups = of_type(resources, "AWS::Logs::LogGroup")
    for fn in FUNCTIONS:
        props = resources[fn]["Properties"]
        group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
        group = groups[group_id]["Properties"]
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        fn_name = props["FunctionName"]["Fn::Sub"]
        assert group["LogGroupName"]["Fn::Sub"] == f"/aws/lambda/{fn_name}"


def test_functions_get_the_environment_the_code_reads(template, resources):
    for fn in FUNCTIONS:
        variables = env(template, resources, fn)
        assert {
            "UPTIME_CONFIG",
            "POWERTOOLS_SERVICE_NAME",
            "POWERTOOLS_METRICS_NAMESPACE",
            "SENTRY_DSN",
        } <= set(variables)
        assert variables["SENTRY_DSN"] == {"Ref": "SentryDsn"}
    for fn in ("RelayFunction", "EscalatorFunction"):
        variables = env(template, resources, fn)
        assert variables["TABLE_NAME"] == {"Ref": "Table"}
        assert variables["DLQ_URL"] == {"Ref": "NotificationDeadLetterQueue"}
        assert variables["ACK_SECRET_REF"] == {"Fn::Sub": "secretsmanager:${AckSigningSecret}"}
        # the Function URL ends with "/": only its host is kept, so ACTIONS_URL has no trailing slash
        host = variables["ACTIONS_URL"]["Fn::Sub"][1]["Host"]
        assert host == {
            "Fn::Select": [2, {"Fn::Split": ["/", {"Fn::GetAtt": ["ActionsFunctionUrl", "FunctionUrl"]}]}]
        }
    actions = env(template, resources, "ActionsFunction")
    assert actions["TABLE_NAME"] == {"Ref": "Table"}
    assert actions["ALERTMANAGER_TOKEN_REF"] == {"Ref": "AlertmanagerTokenRef"}
    assert actions["PAGERDUTY_WEBHOOK_SECRET_REF"] == {"Ref": "PagerDutyWebhookSecretRef"}
    reconciler = env(template, resources, "AlarmsReconcilerFunction")
    assert reconciler["ALERT_TOPIC_ARN"] == {"Ref": "AlertTopic"}
    assert reconciler["SECRETS_SSM_PREFIX"] == {"Ref": "SecretsSsmPrefix"}
    assert reconciler["SECRETS_MANAGER_PREFIX"] == {"Ref": "SecretsManagerPrefix"}


@pytest.mark.parametrize("name", ["AlertmanagerTokenRef", "PagerDutyWebhookSecretRef"])
def test_webhook_secrets_are_optional_references_never_values(template, name):
    spec = template["Parameters"][name]
    assert spec["Default"] == ""
    pattern = re.compile(spec["AllowedPattern"])
    for accepted in (
        "",
        "ssm:/uptime/alertmanager-token",
        "secretsmanager:uptime/pd-webhook",
        "secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:uptime/pd-AbCdEf",
    ):
        assert pattern.fullmatch(accepted), accepted
    for refused in ("env:AM_TOKEN", "ssm:uptime/x", "s3cr3t-token-value", "ssm:/"):
        assert not pattern.fullmatch(refused), refused


def test_the_deploy_checks_secret_references_against_the_granted_prefixes(resources):
    props = resources["CheckAlarms"]["Properties"]
    for name in (
        "SecretsSsmPrefix",
        "SecretsManagerPrefix",
        "AlertmanagerTokenRef",
        "PagerDutyWebhookSecretRef",
    ):
        assert props[name] == {"Ref": name}  # a change re-runs the check


def test_the_table_matches_the_contract(resources):
    table = resources["Table"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    due, listing = table["GlobalSecondaryIndexes"]
    assert due["IndexName"] == "due" and due["Projection"] == {"ProjectionType": "ALL"}
    assert due["KeySchema"] == [
        {"AttributeName": "due_pk", "KeyType": "HASH"},
        {"AttributeName": "due_at", "KeyType": "RANGE"},
    ]
    # incidents by status and time, silences by end: keyed queries instead of scans (issue 13)
    assert listing["IndexName"] == "listing" and listing["Projection"] == {"ProjectionType": "ALL"}
    assert listing["KeySchema"] == [
        {"AttributeName": "list_pk", "KeyType": "HASH"},
        {"AttributeName": "list_at", "KeyType": "RANGE"},
    ]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True


def test_alarms_can_publish_to_the_encrypted_topics(resources):
    for topic in ("AlertTopic", "EmergencyTopic"):
        assert resources[topic]["Properties"]["KmsMasterKeyId"] == {"Ref": "TopicKey"}
    key_statements = resources["TopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = next(s for s in key_statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"})
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    topic_policy = resources["AlertTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    publish = next(s for s in topic_policy if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"})
    assert publish["Action"] == "sns:Publish"
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_undeliverable_alerts_land_on_a_dead_letter_queue(resources):
    relay = resources["RelayFunction"]["Properties"]
    sns = relay["Events"]["Alerts"]
    assert sns["Type"] == "SNS" and sns["Properties"]["Topic"] == {"Ref": "AlertTopic"}
    assert sns["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["AlertDeadLetterQueue", "Arn"]}
    }
    assert relay["DeadLetterQueue"]["TargetArn"] == {"Fn::GetAtt": ["AlertDeadLetterQueue", "Arn"]}
    for queue in ("AlertDeadLetterQueue", "NotificationDeadLetterQueue"):
        props = resources[queue]["Properties"]
        assert props["SqsManagedSseEnabled"] is True and props["MessageRetentionPeriod"] == 14 * 86400


def test_the_pipeline_pages_the_emergency_topic_when_the_probe_stops(template, resources):
    service = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
    assert service == metricnames.DEFAULT_SERVICE  # the probe's run metrics carry service=<this>
    alarm = resources["ProbeNotRunningAlarm"]["Properties"]
    assert alarm["MetricName"] == metricnames.RUN_COMPLETED
    assert alarm["Namespace"] == {"Ref": "MetricsNamespace"}
    assert alarm["Dimensions"] == [
        {"Name": metricnames.SERVICE_DIMENSION, "Value": metricnames.DEFAULT_SERVICE}
    ]
    assert alarm["TreatMissingData"] == "breaching"
    assert alarm["AlarmActions"] == [{"Ref": "EmergencyTopic"}]
    slow = resources["ProbeRunSlowAlarm"]["Properties"]
    assert slow["MetricName"] == metricnames.RUN_DURATION and slow["Statistic"] == "Maximum"
    assert slow["Threshold"] < resources["ProbeFunction"]["Properties"]["Timeout"] * 1000


def test_function_errors_throttles_and_dead_letters_are_alarmed(resources):
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    watched = {
        (a["Properties"]["MetricName"], str(a["Properties"]["Dimensions"][0]["Value"]))
        for a in alarms.values()
        if "MetricName" in a["Properties"]  # not the Metrics Insights ChannelFailingAlarm
    }
    for fn in ("RelayFunction", "EscalatorFunction", "ActionsFunction"):
        assert ("Errors", str({"Ref": fn})) in watched
        assert ("Throttles", str({"Ref": fn})) in watched
    for queue in ("NotificationDeadLetterQueue", "AlertDeadLetterQueue"):
        assert ("ApproximateNumberOfMessagesVisible", str({"Fn::GetAtt": [queue, "QueueName"]})) in watched
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "EmergencyTopic"}]


def test_the_emergency_email_is_optional(template, resources):
    sub = resources["EmergencyEmailSubscription"]
    assert sub["Condition"] == "HasAlertEmail"
    assert sub["Properties"]["Endpoint"] == {"Ref": "AlertEmail"}
    assert template["Parameters"]["AlertEmail"]["Default"] == ""


def test_a_config_change_reruns_the_alarm_reconciler(resources):
    custom = resources["CheckAlarms"]
    assert custom["Type"] == "Custom::CheckAlarms"
    assert custom["Properties"]["ConfigLayerArn"] == {"Ref": "ConfigLayer"}
    assert custom["Properties"]["ServiceToken"] == {"Fn::GetAtt": ["AlarmsReconcilerFunction", "Arn"]}


def test_the_actions_url_is_public_and_authenticated_by_the_function(resources):
    assert resources["ActionsFunction"]["Properties"]["FunctionUrlConfig"] == {"AuthType": "NONE"}


def test_every_parameter_is_constrained(template):
    for name, spec in template["Parameters"].items():
        assert "AllowedValues" in spec or "AllowedPattern" in spec, name
        assert spec.get("Description"), name


def test_outputs_name_what_operators_need(template):
    assert {
        "AlertTopicArn",
        "EmergencyTopicArn",
        "TableName",
        "ActionsUrl",
        "NotificationDeadLetterQueueUrl",
        "AlertDeadLetterQueueUrl",
        "ProbeFunctionName",
        "RelayFunctionName",
        "EscalatorFunctionName",
        "ActionsFunctionName",
    } <= set(template["Outputs"])


# --------------------------------------------------------------------------------------- IAM
def home_policies(role_properties):
    """A role's inline policies as the home stack has them (a policy only the home stack holds is
    ``Fn::If [IsHomeStack, policy, AWS::NoValue]``)."""
    for policy in role_properties.get("Policies", []):
        if "Fn::If" in policy:
            policy = policy["Fn::If"][1]
        yield policy


def role_statements(translated):
    for logical_id, res in translated["Resources"].items():
        if res["Type"] != "AWS::IAM::Role":
            continue
        for policy in home_policies(res["Properties"]):
            for statement in policy["PolicyDocument"]["Statement"]:
                yield logical_id, policy["PolicyName"], statement


def as_list(value):
    return value if isinstance(value, list) else [value]


def test_no_role_grants_a_wildcard_action(translated):
    statements = list(role_statements(translated))
    assert len(statements) > 10
    for role, policy, statement in statements:
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            assert action != "*" and not action.endswith(":*"), (role, policy, action)


def test_resource_star_only_where_the_api_allows_nothing_narrower(translated):
    for role, policy, statement in role_statements(translated):
        if "*" in as_list(statement.get("Resource", [])):
            assert set(as_list(statement["Action"])) <= STAR_RESOURCE_ALLOWED, (role, policy, statement)


def test_roles_attach_only_the_basic_logging_and_tracing_managed_policies(translated):
    roles = of_type(translated["Resources"], "AWS::IAM::Role")
    assert len(roles) == len(FUNCTIONS)
    for role in roles.values():
        assert set(role["Properties"]["ManagedPolicyArns"]) <= ALLOWED_MANAGED


def test_secrets_are_readable_only_below_the_configured_prefixes(translated):
    def text(value):
        return str(value)

    for role, _, statement in role_statements(translated):
        actions = as_list(statement["Action"])
        if "secretsmanager:GetSecretValue" in actions:
            resource = text(statement["Resource"])
            assert "${SecretsManagerPrefix}*" in resource or "AckSigningSecret" in resource, role
        if "ssm:GetParameter" in actions:
            assert "parameter${SecretsSsmPrefix}*" in text(statement["Resource"]), role


def test_only_the_reconciler_manages_alarms_and_only_its_stacks_check_alarms(translated):
    writers = [
        (role, statement)
        for role, _, statement in role_statements(translated)
        if "cloudwatch:PutMetricAlarm" in as_list(statement["Action"])
    ]
    assert [role for role, _ in writers] == ["AlarmsReconcilerFunctionRole"]
    assert writers[0][1]["Resource"]["Fn::Sub"].endswith(":alarm:${AWS::StackName}-check-*")


def test_only_the_reconciler_the_actions_and_the_probe_function_invoke_and_only_themselves(
    translated, resources
):
    # the reconciler continues in a fresh invocation; the actions function runs Slack follow-ups
    # asynchronously after answering within Slack's 3 s; the probe starts its shards (and SAM's
    # on-failure destination statement names the probe function itself too)
    invokers = sorted(
        (
            (role, statement["Resource"])
            for role, _, statement in role_statements(translated)
            if "lambda:InvokeFunction" in as_list(statement["Action"])
        ),
        key=lambda item: (item[0], json.dumps(item[1], sort_keys=True)),
    )
    function_arn = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:"
    probe_arn = {"Fn::Sub": function_arn + "${AWS::StackName}-probe"}
    assert [i for i in invokers if i[0] != "ProbeFunctionRole"] == [
        ("ActionsFunctionRole", {"Fn::Sub": function_arn + "${AWS::StackName}-actions"}),
        ("AlarmsReconcilerFunctionRole", {"Fn::Sub": function_arn + "${AWS::StackName}-alarms"}),
    ]
    probe_targets = [resource for role, resource in invokers if role == "ProbeFunctionRole"]
    assert probe_arn in probe_targets
    assert all(
        resource["Fn::Sub"].endswith(":${AWS::AccountId}:function:${AWS::StackName}-probe")
        for resource in probe_targets
    )
    for fn, suffix in (
        ("ActionsFunction", "-actions"),
        ("AlarmsReconcilerFunction", "-alarms"),
        ("ProbeFunction", "-probe"),
    ):
        assert resources[fn]["Properties"]["FunctionName"] == {"Fn::Sub": "${AWS::StackName}" + suffix}


# --------------------------------------------------------------------------------------- samconfig
def test_samconfig_has_default_staging_and_prod_environments():
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    stacks = {
        env: config[env]["global"]["parameters"]["stack_name"] for env in ("default", "staging", "prod")
    }
    assert stacks == {
        "default": "uptime-relay",
        "staging": "uptime-relay-staging",
        "prod": "uptime-relay-prod",
    }
    namespaces = set()
    for env_name in stacks:
        deploy = config[env_name]["deploy"]["parameters"]
        assert deploy["capabilities"] == "CAPABILITY_IAM"
        assert "confirm_changeset" in deploy
        namespaces.add(deploy["parameter_overrides"].split("MetricsNamespace=")[1].split()[0])
    assert len(namespaces) == 3
    assert config["prod"]["deploy"]["parameters"]["confirm_changeset"] is True


def test_every_samconfig_environment_can_read_the_shipped_configs_secrets():
    # the deploy refuses a config naming secrets outside the prefixes (Custom::CheckAlarms)
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    refs = references(load_config(ROOT / "config" / "uptime.yaml"))
    assert refs
    for env_name in ("default", "staging", "prod"):
        overrides = config[env_name]["deploy"]["parameters"]["parameter_overrides"]
        values = dict(re.findall(r'(\w+)="([^"]*)"', overrides))
        scope = SecretScope(values["SecretsSsmPrefix"], values["SecretsManagerPrefix"])
        assert out_of_scope(refs, scope) == [], env_name


# --------------------------------------------------------------------------------------- scanner gaps
def test_a_flood_of_the_public_actions_url_is_capped_unless_the_operator_opts_out(template, resources):
    # reserved concurrency: a flood is throttled (429) at the limit instead of taking the
    # account's concurrency from the probe and the relay; 0 reserves nothing (quotas below 110)
    param = template["Parameters"]["ActionsConcurrencyLimit"]
    assert param["Default"] == 10 and 0 in param["AllowedValues"]
    assert template["Conditions"]["HasActionsConcurrencyLimit"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ActionsConcurrencyLimit"}, "0"]}]
    }
    assert resources["ActionsFunction"]["Properties"]["ReservedConcurrentExecutions"] == {
        "Fn::If": ["HasActionsConcurrencyLimit", {"Ref": "ActionsConcurrencyLimit"}, {"Ref": "AWS::NoValue"}]
    }
    capped = [fn for fn in FUNCTIONS if "ReservedConcurrentExecutions" in resources[fn]["Properties"]]
    assert capped == ["ActionsFunction"]
    alarm = resources["ActionsThrottlesAlarm"]["Properties"]
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "ActionsFunction"}}]


def test_every_async_invocation_that_carries_work_has_a_dead_letter_queue(resources, translated):
    # SNS alerts (relay) and the actions function's own follow-up invocations carry a payload:
    # after Lambda's retries it lands on the alert DLQ (alarmed). The schedules carry none and the
    # custom resource answers CloudFormation itself: their skips say so.
    dlq = {"Fn::GetAtt": ["AlertDeadLetterQueue", "Arn"]}
    for fn in ("RelayFunction", "ActionsFunction"):
        assert resources[fn]["Properties"]["DeadLetterQueue"] == {"Type": "SQS", "TargetArn": dlq}
        assert translated["Resources"][fn]["Properties"]["DeadLetterConfig"] == {"TargetArn": dlq}
        role = translated["Resources"][f"{fn}Role"]["Properties"]
        sends = [
            s
            for p in home_policies(role)
            for s in as_list(p["PolicyDocument"]["Statement"])
            if "sqs:SendMessage" in as_list(s["Action"])
        ]
        assert [s["Resource"] for s in sends] == [dlq]
    skipped = {fn for fn in FUNCTIONS if "CKV_AWS_116" in checkov_skips(resources[fn])}
    assert skipped == set(FUNCTIONS) - {"RelayFunction", "ActionsFunction"}
    assert resources["AlertDeadLettersAlarm"]["Properties"]["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["AlertDeadLetterQueue", "QueueName"]}}
    ]


def test_log_groups_are_encrypted_with_the_given_kms_key_and_by_default_without_one(template, resources):
    assert template["Parameters"]["LogsKmsKeyArn"]["Default"] == ""
    pattern = re.compile(template["Parameters"]["LogsKmsKeyArn"]["AllowedPattern"])
    assert pattern.match("") and pattern.match("arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd")
    assert not pattern.match("alias/aws/logs")  # CloudWatch Logs takes a key ARN, not an alias
    for group in of_type(resources, "AWS::Logs::LogGroup").values():
        assert group["Properties"]["KmsKeyId"] == {
            "Fn::If": ["HasLogsKmsKey", {"Ref": "LogsKmsKeyArn"}, {"Ref": "AWS::NoValue"}]
        }


def checkov_skips(resource):
    return {
        s["id"]: s.get("comment") for s in (resource.get("Metadata") or {}).get("checkov", {}).get("skip", [])
    }


def test_every_scanner_finding_left_in_place_says_why_in_one_line(resources):
    skips = {
        (lid, cid): reason for lid, res in resources.items() for cid, reason in checkov_skips(res).items()
    }
    assert len(skips) == 21
    for (lid, cid), reason in skips.items():
        assert re.fullmatch(r"CKV_AWS_\d+", cid), (lid, cid)
        assert isinstance(reason, str) and 40 <= len(reason) <= 200 and "\n" not in reason, (lid, cid)
    # no VPC anywhere: internet egress from a VPC needs a NAT gateway
    assert all("NAT gateway (~$32/month)" in skips[(fn, "CKV_AWS_117")] for fn in FUNCTIONS)


# --------------------------------------------------------------------------------------- SAR
def test_the_serverless_repo_metadata_is_complete_and_versioned_with_the_package(template):
    from uptime_relay_tools.deploycheck import project_version, sar_problems

    app = template["Metadata"]["AWS::ServerlessRepo::Application"]
    assert app["SemanticVersion"] == project_version()
    assert app["SpdxLicenseId"] == "MIT" and (ROOT / app["LicenseUrl"]).read_text().startswith("MIT License")
    assert app["ReadmeUrl"] == "README.md"
    assert sar_problems(template, ROOT, project_version()) == []


def test_a_channel_failing_for_five_minutes_pages_the_emergency_topic_and_names_the_channel(resources):
    """GIVEN the stack WHEN a channel has failed every send for 5 minutes (its
    ChannelFailingSeconds datapoint reaches 300) THEN one alarm, per channel (GROUP BY the
    channel dimension), tells the emergency topic; and stays in alarm between backoff attempts."""
    alarm = resources["ChannelFailingAlarm"]["Properties"]
    (query,) = alarm["Metrics"]
    expression = query["Expression"]["Fn::Sub"]
    assert f"MAX({metricnames.CHANNEL_FAILING})" in expression
    assert f'SCHEMA("${{MetricsNamespace}}", {metricnames.CHANNEL_DIMENSION})' in expression
    assert expression.endswith(f"GROUP BY {metricnames.CHANNEL_DIMENSION}")
    assert query["Period"] == 60 and query["ReturnData"] is True
    assert alarm["Threshold"] == metricnames.CHANNEL_FAILING_ALARM_S == 300
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["EvaluationPeriods"] * 60 >= 900  # the longest backoff: no OK between attempts
    assert alarm["DatapointsToAlarm"] == 1 and alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": "EmergencyTopic"}]
    assert alarm["OKActions"] == [{"Ref": "EmergencyTopic"}]


def test_sms_channels_may_publish_to_phone_numbers_but_never_to_a_topic(translated):
    """The functions that send may call sns:Publish only on what is not an SNS ARN (a phone
    number); no statement lets them publish to a topic or endpoint, and the probe cannot at all."""
    sms = [
        (role, statement)
        for role, _, statement in role_statements(translated)
        if "sns:Publish" in as_list(statement["Action"])
    ]
    roles = sorted(role for role, _ in sms)
    assert len(roles) == 3 and all(
        any(name in role for role in roles) for name in ("Relay", "Escalator", "Actions")
    ), roles
    for _, statement in sms:
        assert "Resource" not in statement
        assert statement["NotResource"] == {"Fn::Sub": "arn:${AWS::Partition}:sns:*:*:*"}
