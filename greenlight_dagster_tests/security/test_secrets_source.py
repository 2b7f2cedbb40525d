"""Secrets from the environment by default, from SSM Parameter Store (moto) when configured."""

from __future__ import annotations

import subprocess
import sys

import boto3
import pytest
from moto import mock_aws

from greenlight_dagster.lib.secrets import SECRETS_ENV, SSM_PATH_ENV, load_secrets

PLANTED = "ssm-planted-Zq7RkV2pLw9x"


def test_env_mode_changes_nothing_and_needs_no_aws() -> None:
    env = {"GREENLIGHT_PW_PASSWORD": "from-env"}
    assert load_secrets(env).loaded == ()
    assert env == {"GREENLIGHT_PW_PASSWORD": "from-env"}
    probe = ("import sys; from greenlight_dagster.lib.secrets import load_secrets; load_secrets({}); "
             "sys.exit(any(m.startswith(('dagster_aws', 'boto3')) for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0, "env mode imported AWS code"


def test_a_misspelt_mode_is_an_error_not_a_silent_default() -> None:
    with pytest.raises(ValueError, match=SECRETS_ENV):
        load_secrets({SECRETS_ENV: "smm"})


@mock_aws
def test_ssm_mode_exports_known_variables_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("ssm", region_name="us-east-1")
    client.put_parameter(Name="/prod/greenlight/GREENLIGHT_PW_PASSWORD", Value=PLANTED, Type="SecureString")
    client.put_parameter(Name="/prod/greenlight/GREENLIGHT_SF_CLIENT_ID", Value="client-1", Type="String")
    client.put_parameter(Name="/prod/greenlight/PATH", Value="/tmp/evil", Type="String")
    client.put_parameter(Name="/other/GREENLIGHT_SF_CLIENT_SECRET", Value="not ours", Type="SecureString")
    env = {SECRETS_ENV: "ssm", SSM_PATH_ENV: "/prod/greenlight/"}

    loaded = load_secrets(env, ssm_client=client)

    assert env["GREENLIGHT_PW_PASSWORD"] == PLANTED and env["GREENLIGHT_SF_CLIENT_ID"] == "client-1"
    assert "PATH" not in env and "GREENLIGHT_SF_CLIENT_SECRET" not in env
    assert loaded.loaded == ("GREENLIGHT_PW_PASSWORD", "GREENLIGHT_SF_CLIENT_ID")
    assert loaded.skipped == ("/prod/greenlight/PATH",)
    assert PLANTED not in repr(loaded)
