"""The client of the admin API (/_emulator/): the one the emulator's tests, the fuzzer and the benchmarks use.

Standard library only (urllib), like the rest of the package, so that scripts and ansible-playbook callbacks can use
it without requests. Every call has a timeout, goes straight to the emulator (never through a proxy from the
environment: the admin API answers loopback clients only) and raises AdminError unless the answer is 200.

    admin = Admin("http://127.0.0.1:8787")
    admin.reset(seed)                       # a seed (dict), YAML or JSON text, or None for the default world
    admin.faults([{"path": "/api/2/attributes/acquire/", "status": 500}])
    ...
    admin.requests()                        # the request log, oldest first
    admin.advance(days=365)                 # move the emulator's clock (token expiry, the users' days)
    code = admin.authorize("demo-client", "demo", ["all"])   # a code as if the user had clicked "allow"
    admin.chaos({"rate": 0.05, "seed": 7})  # seeded random faults on 5% of the API requests
    admin.chaos_log()                       # every fault chaos injected: request, user, kind, applied or not
"""

from __future__ import annotations

import datetime
import json
import ssl
import urllib.error
import urllib.request
from typing import Any


class AdminError(Exception):
    """The admin API answered something other than 200: `status` and the answer's `detail` (or its text)."""

    def __init__(self, method: str, path: str, status: int, detail: str) -> None:
        super().__init__(f"{method} /_emulator/{path}: {status} {detail}")
        self.status = status
        self.detail = detail


class Admin:
    """The admin API of one emulator at `url` (http:// or https://; `cafile` is the CA to trust for https)."""

    def __init__(self, url: str, timeout: float = 30.0, cafile: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        handlers: list[Any] = [urllib.request.ProxyHandler({})]
        if cafile is not None:
            handlers.append(urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=cafile)))
        self._opener = urllib.request.build_opener(*handlers)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One admin request to /_emulator/PATH; the decoded JSON answer.

        `body`: None sends none, text (str) is sent as it is, anything else as JSON.
        """
        if body is None:
            data = None
        else:
            data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
        request = urllib.request.Request(
            f"{self.url}/_emulator/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data is not None else {},
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            try:
                text = exc.read().decode("utf-8", "replace")
            finally:
                exc.close()
            try:
                detail = json.loads(text)["detail"]
            except (ValueError, KeyError, TypeError):
                detail = text
            raise AdminError(method, path, exc.code, str(detail)) from None
        if status != 200:  # the admin API answers 200 to everything it does
            raise AdminError(method, path, status, raw.decode("utf-8", "replace"))
        return json.loads(raw) if raw else None

    def reset(self, seed: Any = None) -> None:
        """Load a world: a seed (dict), YAML or JSON text, or None for the default world.

        Rate counters, faults and the request log start afresh too.
        """
        self.call("POST", "reset", seed)

    def state(self) -> dict:
        """The whole world, in the seed format."""
        return self.call("GET", "state")

    def owned(self, username: str, service: str) -> dict[str, bool]:
        """{name: manual} of the attributes of `username` that `service` owns, from the state."""
        user = next(u for u in self.state()["users"] if u["username"] == username)
        return {
            a.get("name") or a["template"]: bool(a["manual"]) for a in user["attributes"] if a.get("service") == service
        }

    def faults(self, faults: list | dict | None = None) -> list[dict]:
        """Queue faults (a list, or one object) and answer every pending one; without an argument only answer them."""
        return self.call("GET", "faults") if faults is None else self.call("POST", "faults", faults)

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        self.call("DELETE", "faults")

    def chaos(self, config: dict | None = None) -> dict:
        """Chaos mode: with `config` ({"rate", "seed", "kinds", "retry_after", "delay", "trickle", "paths"}, all
        optional), put it in force (its counters and the chaos log start afresh); without, only read it. Answers
        {"chaos": the configuration or None, "requests": N, "injected": N, "by_kind": {kind: N}}."""
        return self.call("GET", "chaos") if config is None else self.call("POST", "chaos", config)

    def chaos_off(self) -> dict:
        """Stop chaos mode; its log is kept. Answers as chaos()."""
        return self.call("DELETE", "chaos")

    def chaos_log(self) -> list[dict]:
        """Every fault chaos mode injected since it was set, oldest first."""
        return self.call("GET", "chaos/log")

    def requests(self) -> list[dict]:
        """The log of API requests, oldest first."""
        return self.call("GET", "requests")

    def clear_requests(self) -> None:
        """Empty the request log."""
        self.call("DELETE", "requests")

    def config(self, rate_limit: int | str | None = None) -> dict:
        """The configuration ({"rate_limit": N}); with `rate_limit`, set it first (that clears the rate counters)."""
        if rate_limit is None:
            return self.call("GET", "config")
        return self.call("POST", "config", {"rate_limit": rate_limit})

    def clock(self) -> dict:
        """The emulator's clock: {"now": "YYYY-MM-DDTHH:MM:SSZ", "offset_seconds": N}."""
        return self.call("GET", "clock")

    def advance(self, days: float = 0, seconds: float = 0) -> dict:
        """Move the clock forward by `days` and `seconds` (negative moves it back); answers clock()."""
        body: dict[str, float] = {}
        if days:
            body["advance_days"] = days
        if seconds or not body:
            body["advance_seconds"] = seconds
        return self.call("POST", "clock", body)

    def set_now(self, now: str | datetime.datetime) -> dict:
        """Set the clock to `now` (ISO 8601 text, UTC unless it says otherwise, or a datetime); it runs on from
        there. Answers clock()."""
        if isinstance(now, datetime.datetime):
            if now.tzinfo is None:
                now = now.replace(tzinfo=datetime.timezone.utc)
            now = now.isoformat()
        return self.call("POST", "clock", {"now": now})

    def authorize(self, client_id: str, username: str, scopes: list[str], redirect_uri: str | None = None) -> str:
        """A one-time authorisation code for `client_id`, as if `username` had allowed `scopes` (and, with
        `redirect_uri`, as if the authorisation had been asked with it: the exchange must then give the same)."""
        body: dict[str, Any] = {"client_id": client_id, "username": username, "scopes": list(scopes)}
        if redirect_uri is not None:
            body["redirect_uri"] = redirect_uri
        return self.call("POST", "authorize", body)["code"]

    def stats(self) -> dict:
        """{"requests": API requests answered since the emulator started, "cpu_seconds": the emulator process's CPU
        time (time.process_time()), "wall_seconds": since the emulator started}."""
        return self.call("GET", "stats")
