"""The ``Custom::CheckAlarms`` CloudFormation custom resource: per-check alarms follow the config.

Create/Update: check that every secret reference of the config is readable by the stack (see
``secretscope``), then reconcile the alarms with the config version named by ``ConfigLayerArn``
(the config layer's version ARN, so every config change triggers an Update). When that is the
layer the function runs with, it reads /opt/uptime.yaml; otherwise (a rollback: CloudFormation
rolls the custom resource back before the function) it downloads that exact layer version, and a
secret-scope problem is only logged (a rollback must never fail).
Delete: remove every alarm of the stack's prefix. The response always goes to the pre-signed
ResponseURL, also on error (FAILED with the reason), so a stack never hangs for an hour. More
alarm changes than one 15-minute invocation allows continue in a fresh asynchronous invocation.

``functions/alarms/app.py`` only builds the CloudWatch client and calls :func:`run`.
"""

from __future__ import annotations

import io
import json
import logging
import os
import zipfile
from collections.abc import Callable, Mapping
from typing import Any

import requests

from . import alarms, metricnames
from .config import Config, ConfigError
from .config.loader import default_config_path, load_config, parse_config
from .secretscope import SecretScope, out_of_scope, references, refusal

logger = logging.getLogger(__name__)

CONFIG_FILE_IN_LAYER = "uptime.yaml"
MAX_REASON = 3500  # the whole response must stay under 4 KB
MARGIN_MS = 60_000  # stop reconciling a minute before the Lambda timeout
MAX_CONTINUATIONS = 3  # CloudFormation waits one hour for a custom resource; 4 x 15 min fit
CONTINUATION_KEY = "UptimeRelayContinuation"
# Environment of the reconciler function (template.yaml); resource properties of the same name
# (without the env spelling) take precedence.
SSM_PREFIX_ENV = "SECRETS_SSM_PREFIX"
SECRETSMANAGER_PREFIX_ENV = "SECRETS_MANAGER_PREFIX"
# Secret references the template itself hands to functions (resource property -> where to name it)
TEMPLATE_REFERENCES = {
    "AlertmanagerTokenRef": "parameter AlertmanagerTokenRef",
    "PagerDutyWebhookSecretRef": "parameter PagerDutyWebhookSecretRef",
}


class Continue(Exception):
    """The time budget ran out before every alarm was reconciled: a fresh invocation continues."""


class SecretsOutOfScope(Exception):
    """The config names secrets the stack's roles may not read; the message lists them all."""


def config_for(
    layer_arn: str | None, *, lambda_client: Any = None, environ: Mapping[str, str] | None = None
) -> tuple[Config, bool]:
    """The config of layer version ``layer_arn`` and whether it is the mounted one: the mounted
    file when that is our own layer (CONFIG_LAYER_ARN), else the file inside that version's zip
    (rollbacks)."""
    env = os.environ if environ is None else environ
    own = env.get("CONFIG_LAYER_ARN")
    if not layer_arn or not own or layer_arn == own:
        return load_config(default_config_path()), True
    client = lambda_client or _boto3_client("lambda")
    layer = client.get_layer_version_by_arn(Arn=layer_arn)
    content = requests.get(layer["Content"]["Location"], timeout=30)
    content.raise_for_status()
    with zipfile.ZipFile(io.BytesIO(content.content)) as archive:
        text = archive.read(CONFIG_FILE_IN_LAYER).decode("utf-8")
    return parse_config(text, f"{layer_arn}:{CONFIG_FILE_IN_LAYER}"), False


def secret_scope(
    props: Mapping[str, Any], environ: Mapping[str, str] | None = None, *, stack_id: str = ""
) -> SecretScope | None:
    """The stack's secret scope from the resource properties or the environment; None when
    neither names both prefixes (then nothing is checked: a stack without the parameters)."""
    env = os.environ if environ is None else environ
    ssm = props.get("SecretsSsmPrefix") or env.get(SSM_PREFIX_ENV)
    manager = props.get("SecretsManagerPrefix") or env.get(SECRETSMANAGER_PREFIX_ENV)
    if not ssm or not manager:
        return None
    parts = stack_id.split(":")  # arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>
    region = parts[3] if len(parts) > 5 else env.get("AWS_REGION")
    account = parts[4] if len(parts) > 5 else None
    return SecretScope(str(ssm), str(manager), region or None, account or None)


def check_secret_scope(config: Config, props: Mapping[str, Any], scope: SecretScope | None) -> None:
    """Raise ``SecretsOutOfScope`` listing every reference (config and template parameters) the
    stack could not read."""
    if scope is None:
        return
    refs = references(config)
    refs += [(where, str(props[key])) for key, where in TEMPLATE_REFERENCES.items() if props.get(key)]
    offending = out_of_scope(refs, scope)
    if offending:
        raise SecretsOutOfScope(refusal(offending, scope))


def handle(
    event: dict[str, Any],
    cloudwatch: Any,
    lambda_client: Any = None,
    stop: Callable[[], bool] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Do the work of one request; returns (physical id, Data). Raises on failure, and raises
    ``Continue`` when ``stop()`` ended the work early."""
    env = os.environ if environ is None else environ
    props = event.get("ResourceProperties") or {}
    prefix = props.get("Prefix") or event["StackId"].split("/")[1]
    namespace = props.get("Namespace") or metricnames.namespace()
    topic_arn = props.get("TopicArn") or env.get("ALERT_TOPIC_ARN", "")
    physical_id = event.get("PhysicalResourceId") or f"{prefix}-check-alarms"
    if event["RequestType"] == "Delete":
        try:
            changes = alarms.delete_all(cloudwatch, prefix, namespace)
        except Exception:
            if not physical_id.endswith("-failed"):
                raise
            # the Create failed: never block its rollback on cleaning up what it may have made
            logger.exception("alarms of a failed create not removed")
            return physical_id, {}
    else:
        if not topic_arn:
            raise ValueError("no alert topic: set the TopicArn property or ALERT_TOPIC_ARN")
        config, mounted = config_for(props.get("ConfigLayerArn"), lambda_client=lambda_client, environ=env)
        scope = secret_scope(props, env, stack_id=event.get("StackId", ""))
        try:
            check_secret_scope(config, props, scope)
        except SecretsOutOfScope as exc:
            if mounted:
                raise
            # a rollback to an earlier config: refusing it would leave the stack UPDATE_ROLLBACK_FAILED
            logger.warning("secret references out of scope", extra={"problem": str(exc)})
        desired = alarms.desired_alarms(
            config,
            namespace=namespace,
            topic_arn=topic_arn,
            prefix=prefix,
            # probe-only regions' "probe did not run" alarms (emergency topic)
            emergency_topic_arn=props.get("EmergencyTopicArn") or env.get("EMERGENCY_TOPIC_ARN"),
            home_region=env.get("AWS_REGION"),
        )
        changes = alarms.reconcile(cloudwatch, desired, prefix, namespace=namespace, stop=stop)
        if not changes.complete:
            logger.info("time budget spent, continuing", extra={"alarms_done": changes.summary()})
            raise Continue(changes.summary())
    logger.info(
        "check alarms reconciled",
        extra={
            "request": event["RequestType"],
            "alarms_created": changes.created,
            "alarms_updated": changes.updated,
            "alarms_deleted": changes.deleted,
            "alarms_unchanged": len(changes.unchanged),
        },
    )
    data = {
        "Created": len(changes.created),
        "Updated": len(changes.updated),
        "Deleted": len(changes.deleted),
        "Unchanged": len(changes.unchanged),
        "AlarmPrefix": alarms.alarm_prefix(prefix),
    }
    return physical_id, data


def send_response(
    event: dict[str, Any], status: str, physical_id: str, data: dict[str, Any], reason: str
) -> None:
    """PUT the result to CloudFormation's pre-signed ResponseURL (a few tries; never raises)."""
    body = {
        "Status": status,
        "Reason": reason[:MAX_REASON],
        "PhysicalResourceId": physical_id,
        "StackId": event.get("StackId", ""),
        "RequestId": event.get("RequestId", ""),
        "LogicalResourceId": event.get("LogicalResourceId", ""),
        "NoEcho": False,
        "Data": data,
    }
    payload = json.dumps(body)
    # The pre-signed S3 URL expects no Content-Type; retry transient failures a few times.
    for attempt in range(3):
        try:
            reply = requests.put(
                event["ResponseURL"],
                data=payload,
                headers={"Content-Type": "", "Content-Length": str(len(payload))},
                timeout=10,
            )
            if reply.status_code < 500:
                if reply.status_code >= 400:
                    logger.error("response refused", extra={"status": reply.status_code})
                return
        except requests.RequestException as exc:
            logger.warning("response not sent", extra={"attempt": attempt + 1, "error": type(exc).__name__})
    logger.error("custom resource response could not be sent")


def continue_later(event: dict[str, Any], function_arn: str, lambda_client: Any = None) -> bool:
    """Invoke this function again (asynchronously) with the same request; False when the chain
    is already as long as CloudFormation would wait."""
    count = int(event.get(CONTINUATION_KEY, 0)) + 1
    if count > MAX_CONTINUATIONS:
        return False
    client = lambda_client or _boto3_client("lambda")
    client.invoke(
        FunctionName=function_arn,
        InvocationType="Event",
        Payload=json.dumps({**event, CONTINUATION_KEY: count}).encode(),
    )
    return True


def run(event: dict[str, Any], context: Any, *, cloudwatch: Any, lambda_client: Any = None) -> str:
    """Serve one custom resource request end to end; returns the status sent ("SUCCESS",
    "FAILED") or "CONTINUED" when a fresh invocation will answer. Never raises."""
    fallback_id = event.get("PhysicalResourceId") or f"{event.get('LogicalResourceId', 'CheckAlarms')}-failed"

    def out_of_time() -> bool:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        return remaining is not None and remaining() < MARGIN_MS

    try:
        physical_id, data = handle(event, cloudwatch, lambda_client, stop=out_of_time)
    except Continue as progress:
        try:
            if continue_later(event, context.invoked_function_arn, lambda_client):
                return "CONTINUED"  # the next invocation answers CloudFormation
            reason = f"too many alarm changes for one deploy ({progress}); deploy again"
        except Exception as exc:
            logger.exception("continuation not started")
            reason = f"could not continue in a fresh invocation ({type(exc).__name__}: {exc}); deploy again"
        send_response(event, "FAILED", fallback_id, {}, reason)
        return "FAILED"
    except ConfigError as exc:
        logger.error("configuration refused", extra={"errors": [str(i) for i in exc.issues]})
        send_response(event, "FAILED", fallback_id, {}, f"configuration invalid: {exc}")
        return "FAILED"
    except SecretsOutOfScope as exc:
        logger.error("configuration refused", extra={"problem": str(exc)})
        send_response(event, "FAILED", fallback_id, {}, f"configuration refused: {exc}")
        return "FAILED"
    except Exception as exc:
        logger.exception("check alarms not reconciled")
        # On a failed Create there is nothing to clean up; keep the old id on Update/Delete.
        reason = f"{type(exc).__name__}: {exc}. See CloudWatch Logs {getattr(context, 'log_stream_name', '')}"
        send_response(event, "FAILED", fallback_id, {}, reason)
        return "FAILED"
    send_response(event, "SUCCESS", physical_id, data, "check alarms match the configuration")
    return "SUCCESS"


def _boto3_client(service: str) -> Any:
    import boto3

    return boto3.client(service)
