"""Secret references (``env:NAME``, ``ssm:/path``, ``secretsmanager:id``) resolved at run time.

Values are fetched with Powertools Parameters (cached for ``max_age`` seconds, so a warm Lambda
does not call SSM / Secrets Manager for every alert) and are never logged: errors name the
reference, never the value. A string without one of the prefixes is a literal (local runs).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from ..config import is_secret_ref, secret_ref_problem

# Provider error codes meaning the reference itself is wrong: retrying cannot help.
_MISSING_CODES = frozenset(
    {
        "ParameterNotFound",
        "ParameterVersionNotFound",
        "ResourceNotFoundException",
        "ValidationException",
        "InvalidParameterException",
    }
)


class SecretError(Exception):
    """A reference could not be resolved. The message names the reference, never a value.

    ``permanent`` is True when the reference itself is wrong (it does not exist, the environment
    variable is unset, the reference is malformed): retrying cannot help. Throttling, network and
    other provider errors are transient (``permanent`` False).
    """

    def __init__(self, message: str, *, permanent: bool = False, reference: str | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.reference = reference


def _provider_error_code(exc: BaseException) -> str | None:
    """The AWS error code behind a provider error (Powertools wraps it in GetParameterError)."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        response = getattr(current, "response", None)
        if isinstance(response, dict):
            code = (response.get("Error") or {}).get("Code")
            if code:
                return str(code)
        current = current.__cause__ or current.__context__
        seen += 1
    match = re.search(r"An error occurred \(([A-Za-z0-9_.]+)\)", str(exc))
    return match.group(1) if match else None


class SecretResolver:
    """Resolves references through Powertools Parameters providers (clients injectable for moto)."""

    def __init__(
        self,
        *,
        ssm_client: Any = None,
        secrets_client: Any = None,
        max_age: int = 300,
        environ: Mapping[str, str] | None = None,
    ):
        self._ssm_client = ssm_client
        self._secrets_client = secrets_client
        self._max_age = max_age
        self._environ = environ if environ is not None else os.environ
        self._ssm = None
        self._secrets = None

    def resolve(self, reference: str) -> str:
        if not is_secret_ref(reference):
            return reference
        kind, _, name = reference.partition(":")
        if problem := secret_ref_problem(reference):
            raise SecretError(problem, permanent=True, reference=reference)
        try:
            if kind == "env":
                if name not in self._environ:
                    raise SecretError(
                        f"secret reference {reference}: environment variable {name} is not set",
                        permanent=True,
                        reference=reference,
                    )
                return self._environ[name]
            if kind == "ssm":
                return str(self._ssm_provider().get(name, decrypt=True, max_age=self._max_age))
            return str(self._secrets_provider().get(name, max_age=self._max_age))
        except SecretError:
            raise
        except Exception as exc:  # provider errors carry no secret values, but keep only their type
            code = _provider_error_code(exc)
            if code in _MISSING_CODES:
                raise SecretError(
                    f"secret reference {reference} does not exist or is not valid ({code})",
                    permanent=True,
                    reference=reference,
                ) from None
            raise SecretError(
                f"secret reference {reference} could not be read ({code or type(exc).__name__})",
                reference=reference,
            ) from None

    def _ssm_provider(self):
        if self._ssm is None:
            from aws_lambda_powertools.utilities.parameters import SSMProvider

            self._ssm = SSMProvider(boto3_client=self._ssm_client) if self._ssm_client else SSMProvider()
        return self._ssm

    def _secrets_provider(self):
        if self._secrets is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider

            self._secrets = (
                SecretsProvider(boto3_client=self._secrets_client)
                if self._secrets_client
                else SecretsProvider()
            )
        return self._secrets


class StaticSecrets:
    """In-memory fake for tests: a mapping from reference to value; literals pass through."""

    def __init__(self, values: Mapping[str, str] | None = None):
        self.values = dict(values or {})
        self.requested: list[str] = []

    def resolve(self, reference: str) -> str:
        self.requested.append(reference)
        if not is_secret_ref(reference):
            return reference
        if reference not in self.values:
            raise SecretError(f"secret reference {reference} is not set", permanent=True, reference=reference)
        return self.values[reference]
