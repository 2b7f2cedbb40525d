"""Endpoint URLs from deployment configuration only (decision 0015).

The resources read their endpoints here, at client-build time, from the process environment
(which `lib.secrets.load_secrets` fills from SSM in production), and never from run config:
a Launchpad user who could point ``wsdl_url`` at their own host would receive the password the
deployment resolves for it. `core.endpoints` decides what a usable URL is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from greenlight_dagster.core.endpoints import check_endpoint, sandbox_endpoints


def deployment_endpoint(variable: str, env: Mapping[str, str] = os.environ) -> str:
    """The URL in ``variable``, checked (https, or the sandbox on loopback); `EndpointError` otherwise."""
    return check_endpoint(variable, env.get(variable, ""), sandbox=sandbox_endpoints(env))
