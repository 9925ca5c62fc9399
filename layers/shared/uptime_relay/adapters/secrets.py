"""Secret references (``env:NAME``, ``ssm:/path``, ``secretsmanager:id``) resolved at run time.

Values are fetched with Powertools Parameters (cached for ``max_age`` seconds, so a warm Lambda
does not call SSM / Secrets Manager for every alert) and are never logged: errors name the
reference, never the value. A string without one of the prefixes is a literal (local runs).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..config import is_secret_ref


class SecretError(Exception):
    """A reference could not be resolved. The message names the reference, never a value."""


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
        try:
            if kind == "env":
                if name not in self._environ:
                    raise SecretError(f"secret reference {reference}: environment variable {name} is not set")
                return self._environ[name]
            if kind == "ssm":
                return str(self._ssm_provider().get(name, decrypt=True, max_age=self._max_age))
            return str(self._secrets_provider().get(name, max_age=self._max_age))
        except SecretError:
            raise
        except Exception as exc:  # provider errors carry no secret values, but keep only their type
            raise SecretError(
                f"secret reference {reference} could not be read ({type(exc).__name__})"
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
            raise SecretError(f"secret reference {reference} is not set")
        return self.values[reference]
