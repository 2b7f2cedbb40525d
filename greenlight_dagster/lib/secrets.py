"""Where the connection secrets come from: the environment (default) or AWS SSM Parameter Store.

Why this shape: every resource already reads its secrets through `dg.EnvVar`, so the UI shows
variable names, never values, and run configuration never holds a secret. The SSM option keeps
that contract: `load_secrets` fetches the parameters under one path (``/greenlight/`` by default,
``GREENLIGHT_SSM_PATH`` to change it; SecureString decrypted) and exports the known variable
names into this process's environment, before the Definitions resolve their resources. Nothing
else changes between a laptop and production, and the default path never imports AWS code:
``dagster-aws`` (and boto3) are imported only when ``GREENLIGHT_SECRETS=ssm``.

Parameter names are the variable names under the path, e.g. ``/greenlight/GREENLIGHT_PW_PASSWORD``.
A parameter that is not one of `SECRET_VARIABLES` is ignored (and named in the returned list of
skipped names), so the store cannot set arbitrary environment variables such as ``PATH``.
Values are never logged or returned.

Wiring: the code location's ``@dg.definitions`` function (``definitions.py``) calls ``load_secrets()``
first, before any domain's resources exist; the ``greenlight`` commands call it before they start.
Production sets ``GREENLIGHT_SECRETS=ssm`` and ``AWS_REGION``; the code location's IAM role needs
``ssm:GetParametersByPath`` on the path and ``kms:Decrypt`` on its key. See docs/deploy.md.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from dataclasses import dataclass, field

from greenlight_dagster.core.alerts import ALERT_VARIABLES

SECRETS_ENV = "GREENLIGHT_SECRETS"
SSM_PATH_ENV = "GREENLIGHT_SSM_PATH"
DEFAULT_SSM_PATH = "/greenlight/"
MODES = ("env", "ssm")

#: The variables a parameter may set (docs/operations.md §1): connection settings, credentials and alert settings.
SECRET_VARIABLES = frozenset({*ALERT_VARIABLES,
    "GREENLIGHT_WAREHOUSE_URL", "GREENLIGHT_DAGSTER_STORAGE_URL", "GREENLIGHT_DBT_USER", "GREENLIGHT_DBT_PASSWORD",
    "GREENLIGHT_PW_WSDL_URL", "GREENLIGHT_PW_USERNAME", "GREENLIGHT_PW_PASSWORD",
    "GREENLIGHT_PW_REST_URL", "GREENLIGHT_PW_CLIENT_ID", "GREENLIGHT_PW_CLIENT_SECRET", "GREENLIGHT_PW_SYSTEM_ID",
    "GREENLIGHT_PW_API",
    "GREENLIGHT_SF_BASE_URL", "GREENLIGHT_SF_TOKEN_URL", "GREENLIGHT_SF_CLIENT_ID", "GREENLIGHT_SF_CLIENT_SECRET",
})


@dataclass(frozen=True)
class SecretsLoaded:
    """What `load_secrets` did, by name only."""

    mode: str
    loaded: tuple[str, ...] = ()
    skipped: tuple[str, ...] = field(default=())


def secrets_mode(env: MutableMapping[str, str]) -> str:
    """``env`` or ``ssm``; anything else is an error naming the variable (a typo must not mean "no secrets")."""
    mode = (env.get(SECRETS_ENV) or "env").strip().lower()
    if mode not in MODES:
        raise ValueError(f"{SECRETS_ENV} must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def load_secrets(env: MutableMapping[str, str] = os.environ, ssm_client: object | None = None) -> SecretsLoaded:
    """Export the SSM parameters under the configured path into ``env`` when ``GREENLIGHT_SECRETS=ssm``.

    ``ssm_client`` is a boto3 SSM client (tests pass one bound to moto); by default one is built
    with dagster-aws from the standard AWS configuration (region, credentials, role).
    """
    mode = secrets_mode(env)
    if mode == "env":
        return SecretsLoaded(mode)
    from dagster_aws.ssm.parameters import construct_ssm_client, get_parameters_by_paths

    path = env.get(SSM_PATH_ENV) or DEFAULT_SSM_PATH
    client = ssm_client if ssm_client is not None else construct_ssm_client(max_attempts=5)
    parameters = get_parameters_by_paths(client, [path], with_decryption=True, recursive=True)  # type: ignore[list-item]
    loaded, skipped = [], []
    for name, value in sorted(parameters.items()):
        variable = name.rsplit("/", 1)[-1]
        if variable in SECRET_VARIABLES:
            env[variable] = value
            loaded.append(variable)
        else:
            skipped.append(name)
    return SecretsLoaded(mode, tuple(loaded), tuple(skipped))
