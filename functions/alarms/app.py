"""CloudFormation custom resource ``Custom::CheckAlarms``: per-check CloudWatch alarms follow the config.

Create/Update: reconcile the alarms with the config version named by ``ConfigLayerArn`` (the
config layer's version ARN, so every config change triggers an Update). When that is the layer
this function runs with, it reads /opt/uptime.yaml; otherwise (a rollback: CloudFormation rolls
the custom resource back before the function) it downloads that exact layer version.
Delete: remove every alarm of the stack's prefix. The response always goes to the pre-signed
ResponseURL, also on error (FAILED with the reason), so a stack never hangs for an hour.
"""

from __future__ import annotations

import functools
import io
import json
import os
import zipfile
from typing import Any

import boto3
import requests
from aws_lambda_powertools import Logger
from botocore.config import Config as BotoConfig
from uptime_relay import alarms, metricnames
from uptime_relay.config import Config, ConfigError, default_config_path, load_config, parse_config
from uptime_relay.observability import init_sentry

init_sentry()
logger = Logger(service=metricnames.service())
CONFIG_FILE_IN_LAYER = "uptime.yaml"
MAX_REASON = 3500  # the whole response must stay under 4 KB


@functools.cache
def _cloudwatch() -> Any:
    # PutMetricAlarm is throttled at a few requests per second: adaptive retries pace the calls.
    return boto3.client("cloudwatch", config=BotoConfig(retries={"mode": "adaptive", "max_attempts": 20}))


def config_for(layer_arn: str | None, *, lambda_client: Any = None) -> Config:
    """The config of layer version ``layer_arn``: the mounted file when that is our own layer
    (CONFIG_LAYER_ARN), else the file inside that version's zip (rollbacks)."""
    own = os.environ.get("CONFIG_LAYER_ARN")
    if not layer_arn or not own or layer_arn == own:
        return load_config(default_config_path())
    client = lambda_client or boto3.client("lambda")
    layer = client.get_layer_version_by_arn(Arn=layer_arn)
    content = requests.get(layer["Content"]["Location"], timeout=30)
    content.raise_for_status()
    with zipfile.ZipFile(io.BytesIO(content.content)) as archive:
        text = archive.read(CONFIG_FILE_IN_LAYER).decode("utf-8")
    return parse_config(text, f"{layer_arn}:{CONFIG_FILE_IN_LAYER}")


class Continue(Exception):
    """The time budget ran out before every alarm was reconciled: a fresh invocation continues."""


def handle(
    event: dict[str, Any], cloudwatch: Any, lambda_client: Any = None, stop: Any = None
) -> tuple[str, dict[str, Any]]:
    """Do the work of one request; returns (physical id, Data). Raises on failure, and raises
    ``Continue`` when ``stop()`` ended the work early."""
    props = event.get("ResourceProperties") or {}
    prefix = props.get("Prefix") or event["StackId"].split("/")[1]
    namespace = props.get("Namespace") or metricnames.namespace()
    topic_arn = props.get("TopicArn") or os.environ.get("ALERT_TOPIC_ARN", "")
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
        config = config_for(props.get("ConfigLayerArn"), lambda_client=lambda_client)
        desired = alarms.desired_alarms(config, namespace=namespace, topic_arn=topic_arn, prefix=prefix)
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


MARGIN_MS = 60_000  # stop reconciling a minute before the Lambda timeout
MAX_CONTINUATIONS = 3  # CloudFormation waits one hour for a custom resource; 4 x 15 min fit


def _continue_later(event: dict[str, Any], context: Any, lambda_client: Any = None) -> bool:
    """Invoke this function again (asynchronously) with the same request; False when the chain
    is already as long as CloudFormation would wait."""
    count = int(event.get("UptimeRelayContinuation", 0)) + 1
    if count > MAX_CONTINUATIONS:
        return False
    client = lambda_client or boto3.client("lambda")
    client.invoke(
        FunctionName=context.invoked_function_arn,
        InvocationType="Event",
        Payload=json.dumps({**event, "UptimeRelayContinuation": count}).encode(),
    )
    return True


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: Any, *, lambda_client: Any = None) -> None:
    fallback_id = event.get("PhysicalResourceId") or f"{event.get('LogicalResourceId', 'CheckAlarms')}-failed"

    def out_of_time() -> bool:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        return remaining is not None and remaining() < MARGIN_MS

    try:
        physical_id, data = handle(event, _cloudwatch(), lambda_client, stop=out_of_time)
    except Continue as progress:
        if _continue_later(event, context, lambda_client):
            return  # the next invocation answers CloudFormation
        send_response(
            event,
            "FAILED",
            fallback_id,
            {},
            f"too many alarm changes for one deploy ({progress}); deploy again",
        )
        return
    except ConfigError as exc:
        logger.error("configuration refused", extra={"errors": [str(i) for i in exc.issues]})
        send_response(event, "FAILED", fallback_id, {}, f"configuration invalid: {exc}")
        return
    except Exception as exc:
        logger.exception("check alarms not reconciled")
        # On a failed Create there is nothing to clean up; keep the old id on Update/Delete.
        reason = f"{type(exc).__name__}: {exc}. See CloudWatch Logs {getattr(context, 'log_stream_name', '')}"
        send_response(event, "FAILED", fallback_id, {}, reason)
        return
    send_response(event, "SUCCESS", physical_id, data, "check alarms match the configuration")
