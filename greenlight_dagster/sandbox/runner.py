"""One object that runs the whole sandbox: PW SOAP, PW REST, SF REST and the admin API on one shared world.

Why: the CLI (``greenlight sandbox serve``), the demo, tests and benchmarks all need the same
four servers started the same way, with credentials that exist only for this instance
(`secrets.token_urlsafe`, never a fixed secret that could leak into a real configuration), and
handed to the sync exactly as production configuration is: the docs/operations.md §2 info dict and
the §1 environment variables.
"""

from __future__ import annotations

import secrets
from types import TracebackType
from typing import Any

from greenlight_dagster.core.endpoints import SANDBOX_ENDPOINTS_ENV
from greenlight_dagster.core.pw_api import DEPLOYMENTS
from greenlight_dagster.sandbox.admin import clear_request_log, create_admin_server
from greenlight_dagster.sandbox.generator import generate_fixture, validate_fixture
from greenlight_dagster.sandbox.httpbase import SandboxHTTPServer
from greenlight_dagster.sandbox.pw_rest_server import API_PREFIX, create_pw_rest_server
from greenlight_dagster.sandbox.pw_server import SERVICE_PATH, create_pw_server
from greenlight_dagster.sandbox.sf_server import create_sf_server
from greenlight_dagster.sandbox.state import SandboxState

#: docs/operations.md §2 info key -> docs/operations.md §1 environment variable.
ENV_NAMES = {
    "pw_wsdl_url": "GREENLIGHT_PW_WSDL_URL",
    "pw_username": "GREENLIGHT_PW_USERNAME",
    "pw_password": "GREENLIGHT_PW_PASSWORD",
    "pw_rest_url": "GREENLIGHT_PW_REST_URL",
    "pw_client_id": "GREENLIGHT_PW_CLIENT_ID",
    "pw_client_secret": "GREENLIGHT_PW_CLIENT_SECRET",
    "pw_system_id": "GREENLIGHT_PW_SYSTEM_ID",
    "sf_base_url": "GREENLIGHT_SF_BASE_URL",
    "sf_token_url": "GREENLIGHT_SF_TOKEN_URL",
    "sf_client_id": "GREENLIGHT_SF_CLIENT_ID",
    "sf_client_secret": "GREENLIGHT_SF_CLIENT_SECRET",
}

_SOAP_KEYS = frozenset({"pw_wsdl_url", "pw_username", "pw_password"})
_REST_KEYS = frozenset({"pw_rest_url", "pw_client_id", "pw_client_secret", "pw_system_id"})
#: ``Sandbox.env(pw_api)``: the info keys each deployment (`core.pw_api.DEPLOYMENTS`) leaves out.
PW_API_VARIABLES = dict(zip(DEPLOYMENTS, (_REST_KEYS, _SOAP_KEYS, frozenset()), strict=True))


class SandboxStartError(RuntimeError):
    """A server could not start (typically: the port is taken)."""


def _credentials() -> dict[str, dict[str, str]]:
    """Fresh per-instance credentials, in the keyword names the servers take."""
    return {
        "pw": {"username": f"sandbox-{secrets.token_urlsafe(6)}", "password": secrets.token_urlsafe(24)},
        "pw_rest": {"client_id": f"sandbox-{secrets.token_urlsafe(9)}", "client_secret": secrets.token_urlsafe(32),
                    "system_id": str(secrets.randbelow(9_000_000) + 1_000_000)},
        "sf": {"client_id": f"sandbox-{secrets.token_urlsafe(9)}", "client_secret": secrets.token_urlsafe(32)},
    }


class Sandbox:
    """The PW (SOAP and REST), SF and admin servers over one `SandboxState` (a context manager).

    ``fixture`` None generates one from ``seed``/``scale``. ``port_base`` 0 takes free ports;
    otherwise PW SOAP listens on P, SF on P+1, the admin API on P+2 and PW REST on P+3.
    ``pw_options``, ``sf_options`` and ``pw_rest_options`` go to `create_pw_server`,
    `create_sf_server` and `create_pw_rest_server` (they may override the generated
    credentials, which `info` then reports).
    """

    def __init__(self, fixture: dict[str, Any] | None = None, *, seed: int = 0, scale: str = "small",
                 port_base: int = 0, pw_options: dict[str, Any] | None = None,
                 sf_options: dict[str, Any] | None = None, pw_rest_options: dict[str, Any] | None = None) -> None:
        self.fixture = validate_fixture(fixture) if fixture is not None else generate_fixture(seed, scale)
        self.port_base = port_base
        credentials = _credentials()
        self.pw_options = {**credentials["pw"], **(pw_options or {})}
        self.sf_options = {**credentials["sf"], **(sf_options or {})}
        self.pw_rest_options = {**credentials["pw_rest"], **(pw_rest_options or {})}
        self._state: SandboxState | None = None
        self._servers: dict[str, SandboxHTTPServer] = {}

    # ---- lifecycle ----
    def start(self) -> Sandbox:
        """Create the state and start the four servers; stops what started if one fails."""
        if self._servers:
            return self
        self._state = SandboxState(self.fixture)
        makers = (("pw", lambda port: create_pw_server(self.state, port=port, **self.pw_options)),
                  ("sf", lambda port: create_sf_server(self.state, port=port, **self.sf_options)),
                  ("admin", lambda port: create_admin_server(self.state, port=port)),
                  ("pw_rest", lambda port: create_pw_rest_server(self.state, port=port, **self.pw_rest_options)))
        try:
            for offset, (name, make) in enumerate(makers):
                port = self.port_base + offset if self.port_base else 0
                try:
                    self._servers[name] = make(port)
                except OSError as exc:
                    raise SandboxStartError(f"the {name} sandbox server cannot listen on 127.0.0.1:{port} "
                                            f"({exc.strerror or exc})") from exc
                self._servers[name].start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every running server; safe to call twice or before `start`."""
        servers, self._servers = self._servers, {}
        for server in servers.values():
            server.stop()

    def reset(self) -> None:
        """Back to the starting world with no fault rules and an empty request log (per-test isolation)."""
        self.state.reset()
        self.state.faults.clear()
        clear_request_log(self.state)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ---- what clients need ----
    @property
    def state(self) -> SandboxState:
        if self._state is None:
            raise RuntimeError("the sandbox is not started: call start() first")
        return self._state

    def _server(self, name: str) -> SandboxHTTPServer:
        if name not in self._servers:
            raise RuntimeError("the sandbox is not running: call start() first")
        return self._servers[name]

    @property
    def info(self) -> dict[str, str]:
        """The docs/operations.md §2 info object (the first stdout line of ``greenlight sandbox serve``)."""
        sf_url = self._server("sf").base_url
        return {
            "pw_wsdl_url": f"{self._server('pw').base_url}{SERVICE_PATH}?wsdl",
            "pw_username": self.pw_options["username"],
            "pw_password": self.pw_options["password"],
            "pw_rest_url": f"{self._server('pw_rest').base_url}{API_PREFIX}",
            "pw_client_id": self.pw_rest_options["client_id"],
            "pw_client_secret": self.pw_rest_options["client_secret"],
            "pw_system_id": self.pw_rest_options["system_id"],
            "sf_base_url": f"{sf_url}/v1",
            "sf_token_url": f"{sf_url}/oauth/access_token",
            "sf_client_id": self.sf_options["client_id"],
            "sf_client_secret": self.sf_options["client_secret"],
            "admin_url": self._server("admin").base_url,
        }

    def env(self, pw_api: str = "soap") -> dict[str, str]:
        """The docs/operations.md §1 variables that point the sync at this sandbox, and the flag that
        declares them the sandbox's (`core.endpoints`: plain-http loopback URLs are accepted).

        ``pw_api`` says which PropertyWare API a deployment has: ``soap`` (the SOAP variables
        only), ``rest`` (the REST key only) or ``both``; the sync then chooses as it would there.
        """
        if pw_api not in PW_API_VARIABLES:
            raise ValueError(f"pw_api must be one of {sorted(PW_API_VARIABLES)}, got {pw_api!r}")
        info, left_out = self.info, PW_API_VARIABLES[pw_api]
        return {**{variable: info[key] for key, variable in ENV_NAMES.items() if key not in left_out},
                SANDBOX_ENDPOINTS_ENV: "1"}
