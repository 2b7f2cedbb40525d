"""Error answers of the ServiceFusion sandbox, in the three shapes the real API uses.

docs/apis/servicefusion.md §5 documents ``{code, name, message}`` for every error, except that a
create's validation failure (422) is an *array* of ``{field, message}`` and the token endpoint
answers OAuth's ``{error, error_description}``. Clients written against the wrong shape (the
api-evangelist spec) break here exactly as they would break in production.
"""

from __future__ import annotations

from typing import Any

STATUS_NAMES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
    500: "Internal server error.",
}


class ApiError(Exception):
    """An error answer ``{code, name, message}`` with optional extra headers (``Retry-After``)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def payload(self) -> Any:
        return {"code": self.status, "name": STATUS_NAMES.get(self.status, "Error"), "message": self.message}


class Unprocessable(ApiError):
    """422: the create was refused; the body is the list of ``{field, message}``."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(422, "; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors

    def payload(self) -> Any:
        return self.errors


class OAuthError(ApiError):
    """A token endpoint refusal: ``{error, error_description}`` (RFC 6749 §5.2)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(status, description)
        self.error = error

    def payload(self) -> Any:
        return {"error": self.error, "error_description": self.message}
