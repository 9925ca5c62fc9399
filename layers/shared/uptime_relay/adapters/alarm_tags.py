"""The tags of a CloudWatch alarm, as labels for routing (``severity=critical`` on an alarm the stack
did not create routes like a check's label would).

``AlarmTags.tags_for(alarm_arn)`` calls CloudWatch ``ListTagsForResource`` for the alarm's ARN
(a contributor's id ``<ARN>#<contributor>`` is looked up as the alarm's ARN), in the ARN's region.
Best effort: any error is logged and gives ``{}`` (the alert is routed on what the event says);
ids that are not CloudWatch alarm ARNs (fallback and Alertmanager ids) are never looked up.
Answers, errors included, are cached for the life of the container (``ttl``, 5 minutes; errors
``error_ttl``, 1 minute), so a flapping alarm costs one call per TTL.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from .. import clock

log = logging.getLogger(__name__)

TTL = timedelta(minutes=5)
ERROR_TTL = timedelta(minutes=1)
_ALARM_ARN = re.compile(r"^arn:aws[a-z-]*:cloudwatch:(?P<region>[a-z0-9-]+):\d{12}:alarm:.+$")


def alarm_arn(alarm_id: str) -> str | None:
    """The alarm ARN an alert id stands for, or None when it is not one."""
    arn = (alarm_id or "").split("#", 1)[0]
    return arn if _ALARM_ARN.match(arn) else None


class AlarmTags:
    def __init__(
        self,
        client: Any = None,
        *,
        ttl: timedelta = TTL,
        error_ttl: timedelta = ERROR_TTL,
        client_factory: Callable[[str], Any] | None = None,
    ):
        self._client = client  # used for every region when given
        self._clients: dict[str, Any] = {}
        self._factory = client_factory
        self.ttl = ttl
        self.error_ttl = error_ttl
        self._cache: dict[str, tuple[datetime, dict[str, str]]] = {}
        self.calls = 0

    def _client_for(self, region: str) -> Any:
        if self._client is not None:
            return self._client
        if region not in self._clients:
            if self._factory is not None:
                self._clients[region] = self._factory(region)
            else:
                import boto3  # lazy: CloudWatch only when an alarm's tags are first read
                from botocore.config import Config

                self._clients[region] = boto3.client(
                    "cloudwatch",
                    region_name=region,
                    config=Config(connect_timeout=2, read_timeout=3, retries={"max_attempts": 2}),
                )
        return self._clients[region]

    def tags_for(self, alarm_id: str) -> dict[str, str]:
        arn = alarm_arn(alarm_id)
        if arn is None:
            return {}
        now = clock.now()
        cached = self._cache.get(arn)
        if cached is not None and cached[0] > now:
            return dict(cached[1])
        match = _ALARM_ARN.match(arn)
        assert match is not None
        try:
            self.calls += 1
            reply = self._client_for(match.group("region")).list_tags_for_resource(ResourceARN=arn)
            tags = {str(t["Key"]): str(t["Value"]) for t in reply.get("Tags") or () if "Key" in t}
        except Exception as exc:  # best effort: routing goes on with the event's own labels
            log.warning("tags of alarm %s could not be read: %s: %s", arn, type(exc).__name__, exc)
            self._cache[arn] = (now + self.error_ttl, {})
            return {}
        self._cache[arn] = (now + self.ttl, tags)
        return dict(tags)
