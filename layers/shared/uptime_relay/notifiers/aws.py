"""One AWS API call of a channel (SES, SNS), its failures as ``DeliveryError``: a throttle, a 5xx,
a lost connection or one of the service's ``transient`` error codes is worth retrying; a request
the service refuses is permanent."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from . import format as fmt
from .base import DeliveryError


def call(what: str, transient: Collection[str], request: Callable[[], Any]) -> Any:
    """``request()``'s answer; its failure raised as a DeliveryError naming ``what``."""
    from botocore.exceptions import (  # lazy: botocore only when an AWS channel sends
        BotoCoreError,
        ClientError,
        ConnectionError,
        ConnectTimeoutError,
        ParamValidationError,
        ReadTimeoutError,
    )

    try:
        return request()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "Unknown")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        retry = code in transient or (isinstance(status, int) and (status >= 500 or status == 429))
        raise DeliveryError(
            f"{what}: {code}: {fmt.truncate(str(error.get('Message') or ''), 300)}",
            permanent=not retry,
            status=status,
        ) from None
    except (ConnectionError, ConnectTimeoutError, ReadTimeoutError) as exc:
        raise DeliveryError(f"{what}: {type(exc).__name__}", permanent=False) from None
    except ParamValidationError as exc:  # a request the service would refuse: resending cannot help
        raise DeliveryError(f"{what}: invalid request: {exc}", permanent=True) from None
    except BotoCoreError as exc:  # e.g. no credentials / no region: a deployment problem
        raise DeliveryError(f"{what}: {type(exc).__name__}: {exc}", permanent=False) from None
