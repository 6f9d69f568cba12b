"""JSON over HTTP to a running Odoo 18: :class:`OdooRpc` and its error."""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

__all__ = [
    "OdooRpc",
    "OdooRpcError",
]

# Loopback requests must never go through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _post_json(url: str, payload: Mapping[str, Any], timeout: float) -> tuple[int, Any]:
    """POST JSON; returns (HTTP status, decoded body or raw text)."""
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


class OdooRpcError(Exception):
    """A JSON-RPC call returned an error (e.g. an Odoo UserError or AccessError)."""

    def __init__(self, error: Mapping[str, Any]) -> None:
        data = error.get("data") or {}
        self.code: int | None = error.get("code")
        self.name: str = data.get("name") or "unknown"
        self.message: str = data.get("message") or error.get("message") or "RPC error"
        self.debug: str = data.get("debug") or ""
        self.data: Mapping[str, Any] = data
        super().__init__(f"{self.name}: {self.message}")


class OdooRpc:
    """Minimal JSON-RPC client using Odoo's ``/jsonrpc`` endpoint."""

    def __init__(
        self, url: str, db: str, login: str = "admin", password: str = "admin", *, timeout: float = 120
    ) -> None:
        self.url = url.rstrip("/")
        self.db = db
        self.login = login
        self.password = password
        self.timeout = timeout
        self._uid: int | None = None
        self._ids = itertools.count(1)

    def service(self, service: str, method: str, *args: Any) -> Any:
        """Call ``service.method(*args)`` (services: common, db, object)."""
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": list(args)},
            "id": next(self._ids),
        }
        status, body = _post_json(f"{self.url}/jsonrpc", payload, self.timeout)
        if not isinstance(body, dict):
            raise OdooRpcError({"message": f"HTTP {status}: {str(body)[:500]}"})
        if body.get("error"):
            raise OdooRpcError(body["error"])
        return body.get("result")

    @property
    def uid(self) -> int:
        if self._uid is None:
            uid = self.service("common", "authenticate", self.db, self.login, self.password, {})
            if not uid:
                raise OdooRpcError({"message": f"authentication failed for {self.login!r} on {self.db!r}"})
            self._uid = int(uid)
        return self._uid

    def call(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """``env[model].method(*args, **kwargs)`` through ``execute_kw``."""
        return self.service("object", "execute_kw", self.db, self.uid, self.password, model, method, list(args), kwargs)
