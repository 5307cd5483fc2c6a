"""The HTTP server: routing, auth, rate limiting, faults, the request log and the admin API."""

from __future__ import annotations

import collections
import datetime
import functools
import io
import ipaddress
import json
import math
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

from . import api
from .chaos import UNHANDLED, Chaos, fault_for, validate_chaos
from .world import (
    SeedError,
    Token,
    World,
    default_seed,
    format_moment,
    parse_moment,
    parse_seed_text,
    utc_now,
    world_from_seed,
)

RATE_WINDOW = 3600.0
LOG_LIMIT = 100_000
FAULT_KEYS = frozenset(
    (
        "method",
        "path",
        "times",
        "skip",
        "status",
        "retry_after",
        "body",
        "raw_body",
        "content_type",
        "delay",
        "drop",
        "after_apply",
        "trickle",
    )
)
# The Authorization prefix each token kind must be sent with (matched case-insensitively): OAuth2 access tokens
# as "Bearer", simple tokens as "Token". The other prefix is refused like an unknown token.
AUTH_PREFIXES = {"oauth2": "Bearer ", "simple": "Token "}
# Seconds a TLS client has to finish its handshake (done in the connection's own thread, never the accept loop's).
TLS_HANDSHAKE_TIMEOUT = 30


def is_loopback(address: str) -> bool:
    """Whether a client address is a loopback one (the admin API answers nobody else)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


@functools.lru_cache(maxsize=1)
def _default_seed_json() -> str:
    # Parsed once: a reset to the default world then costs no YAML parsing.
    return json.dumps(default_seed())


def default_world() -> World:
    """A fresh copy of the default demo world."""
    return world_from_seed(json.loads(_default_seed_json()))


class Response:
    """What an API request is answered with, plus who asked (for the request log)."""

    __slots__ = ("status", "payload", "headers", "user", "service")

    def __init__(
        self,
        status: int,
        payload: Any,
        headers: dict | None = None,
        user: str | None = None,
        service: str | None = None,
    ) -> None:
        self.status = status
        self.payload = payload
        self.headers = headers or {}
        self.user = user
        self.service = service


def _raw_body_rules(item: dict, status: int | None) -> None:
    """raw_body and content_type: a literal answer body needs a status, and content_type needs it."""
    if "raw_body" in item:
        if not isinstance(item["raw_body"], str):
            raise ValueError("raw_body must be a string")
        if "body" in item:
            raise ValueError("body and raw_body are mutually exclusive")
        if status is None:
            raise ValueError("raw_body needs a status")
    if "content_type" in item:
        if "raw_body" not in item:
            raise ValueError("content_type needs raw_body")
        if not isinstance(item["content_type"], str) or not item["content_type"].strip():
            raise ValueError("content_type must be a non-empty string")


def _validate_fault(item: dict) -> dict:
    """Check one fault and normalise it (method upper-cased or None, path, times and skip filled in)."""
    unknown = set(item) - FAULT_KEYS
    if unknown:
        raise ValueError(f"unknown fault key(s): {', '.join(sorted(unknown))}")
    times = item.get("times", 1)
    if isinstance(times, bool) or not isinstance(times, int) or times < 1:
        raise ValueError("times must be a positive integer")
    skip = item.get("skip", 0)
    if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
        raise ValueError("skip must be a non-negative integer")
    status = item.get("status")
    if status is not None and (isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599):
        raise ValueError("status must be an HTTP status code")
    _raw_body_rules(item, status)
    delay = item.get("delay", 0)
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
        raise ValueError("delay must be a number of seconds")
    trickle = item.get("trickle", 0)
    if isinstance(trickle, bool) or not isinstance(trickle, (int, float)) or not 0 <= trickle <= 60:
        raise ValueError("trickle must be a number of seconds between bytes, from 0 to 60")
    if trickle and item.get("drop"):
        raise ValueError("trickle and drop are mutually exclusive")
    if not item.get("drop") and status is None and not delay and not trickle:
        raise ValueError("a fault needs status, delay, drop or trickle")
    return {
        **item,
        "method": (item.get("method") or "").upper() or None,
        "path": item.get("path") or "",
        "times": times,
        "skip": skip,
    }


def validate_faults(data: Any) -> list[dict]:
    """Check a faults document (a list, or one object) and normalise it."""
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ValueError("faults must be a JSON list of objects")
    return [_validate_fault(item) for item in data]


class Emulator:
    """The world and everything around it, shared by all handler threads under one lock."""

    def __init__(self, world: World | None = None, rate_limit: int = 300) -> None:
        self.lock = threading.Lock()
        self.world = world if world is not None else default_world()
        self.rate_limit = rate_limit
        self.hits: dict[str, collections.deque] = {}
        self.faults: list[dict] = []
        self.log: collections.deque = collections.deque(maxlen=LOG_LIMIT)
        # Replaceable so that tests can move time past the rolling hour (the clock offset is added to it).
        self.clock = time.monotonic
        # Seconds added to the real time: the emulator's "now" (token expiry, the users' days, the rate window).
        self.offset = 0.0
        # API requests answered since the emulator was made (never reset), and when it was made.
        self.request_count = 0
        self.started = time.monotonic()
        # Chaos mode (None: off) and the log of every fault it injected, oldest first.
        self.chaos: Chaos | None = None
        self.chaos_log: collections.deque = collections.deque(maxlen=LOG_LIMIT)

    # -- the clock --

    def now(self) -> datetime.datetime:
        """The emulator's time, in UTC: the real time plus the admin-set offset."""
        return utc_now() + datetime.timedelta(seconds=self.offset)

    def clock_json(self) -> dict:
        """{"now": ISO 8601 UTC with Z, "offset_seconds": N}."""
        with self.lock:
            now, offset = self.now(), self.offset
        return {"now": format_moment(now), "offset_seconds": round(offset, 3)}

    def set_clock(self, data: Any) -> dict:
        """Move the clock: {"advance_seconds": N} and/or {"advance_days": N}, or {"now": ISO 8601}; answers
        clock_json(). Moving it back clears the rate counters (their requests would lie in the future)."""
        if not isinstance(data, dict) or not data:
            raise ValueError("the clock takes {advance_seconds: N}, {advance_days: N} or {now: ISO 8601}")
        unknown = set(data) - {"advance_seconds", "advance_days", "now"}
        if unknown:
            raise ValueError(f"unknown clock key(s): {', '.join(sorted(unknown))}")
        if "now" in data and len(data) > 1:
            raise ValueError("now cannot be combined with advance_seconds or advance_days")
        with self.lock:
            if "now" in data:
                try:
                    target = parse_moment(data["now"])
                except (ValueError, OverflowError) as exc:
                    raise ValueError(f"now must be an ISO 8601 date and time, got {data['now']!r}") from exc
                offset = (target - utc_now()).total_seconds()
            else:
                delta = 0.0
                for key, unit in (("advance_seconds", 1), ("advance_days", 86400)):
                    value = data.get(key, 0)
                    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                        raise ValueError(f"{key} must be a number")
                    delta += value * unit
                offset = self.offset + delta
            try:
                utc_now() + datetime.timedelta(seconds=offset)
            except OverflowError as exc:
                raise ValueError("that moves the clock out of range") from exc
            if offset < self.offset:
                self.hits.clear()
            self.offset = offset
        return self.clock_json()

    # -- admin --

    def reset(self, world: World) -> None:
        """Replace the world; rate counters, faults, chaos (and its log), the request log and the clock start afresh
        too."""
        with self.lock:
            self.world = world
            self.hits.clear()
            self.faults.clear()
            self.log.clear()
            self.offset = 0.0
            self.chaos = None
            self.chaos_log.clear()

    # -- chaos --

    def chaos_json(self) -> dict:
        """{"chaos": the configuration in force or None, "requests": API requests it drew for, "injected": faults
        injected, "by_kind": {kind: faults}}."""
        with self.lock:
            by_kind: dict[str, int] = {}
            for entry in self.chaos_log:
                by_kind[entry["kind"]] = by_kind.get(entry["kind"], 0) + 1
            return {
                "chaos": dict(self.chaos.config) if self.chaos is not None else None,
                "requests": self.chaos.seen if self.chaos is not None else 0,
                "injected": len(self.chaos_log),
                "by_kind": by_kind,
            }

    def set_chaos(self, data: Any) -> dict:
        """Put a chaos configuration in force (validate_chaos); its counters and the chaos log start afresh."""
        config = validate_chaos(data)
        with self.lock:
            self.chaos = Chaos(config)
            self.chaos_log.clear()
        return self.chaos_json()

    def chaos_off(self) -> dict:
        """Stop injecting; the chaos log is kept (so that it can be read afterwards)."""
        with self.lock:
            self.chaos = None
        return self.chaos_json()

    def chaos_entries(self) -> list[dict]:
        """The chaos log, oldest first (copies)."""
        with self.lock:
            return [dict(entry) for entry in self.chaos_log]

    def _chaos_subject(self, chaos: Chaos, path: str, headers: Any, body: bytes) -> tuple[str | None, Token | None]:
        """(the user a request belongs to, the live token pair it uses); call with the lock held."""
        if path == "/oauth2/access_token":
            form = _form(headers, body)
            client = self.world.clients.get(form.get("client_id", ""))
            if form.get("grant_type") == "refresh_token":
                given = form.get("refresh_token", "")
                token = self.world.token_for_refresh(client.service, given) if client is not None else None
                return (token.user if token else chaos.owners.get("refresh:" + given)), token
            if form.get("grant_type") == "authorization_code" and client is not None:
                code = client.codes.get(form.get("code", ""))
                return (code["user"] if code else None), None
            return None, None
        value = headers.get("Authorization") or ""
        given = value.split(" ", 1)[1].strip() if " " in value else ""
        token = self.world.tokens.get(given) if given else None
        return (token.user if token else chaos.owners.get("access:" + given)), token

    def chaos_decide(self, method: str, path: str, headers: Any, body: bytes) -> dict | None:
        """Whether chaos faults this API request: None, or {"entry": its chaos log line, "fault": the fault to apply
        (None for a revocation, which is done here, before the request is handled)}."""
        with self.lock:
            chaos = self.chaos
            if chaos is None or not chaos.covers(path):
                return None
            user, token = self._chaos_subject(chaos, path, headers, body)
            if token is not None:
                chaos.owners["access:" + token.token] = token.user
                if token.refresh_token:
                    chaos.owners["refresh:" + token.refresh_token] = token.user
            number, kind, details = chaos.draw(user or "(unknown)")
            if kind is None:
                return None
            entry: dict[str, Any] = {
                "n": chaos.seen,
                "at": format_moment(self.now()),
                "user": user,
                "user_request": number,
                "method": method,
                "path": path,
                "kind": kind,
                "applied": None,
                "answer": None,
                "sent": None,
                "finished": False,
            }
            if kind in ("revoke_token", "revoke_pair"):
                if token is None or token.kind != "oauth2":
                    # Nothing to revoke (no live OAuth2 pair in the request): nothing is injected.
                    return None
                if kind == "revoke_pair":
                    self.world.remove_token(token)
                else:
                    token.access_revoked = True
            fault = fault_for(kind, details, chaos.config)
            for key in ("status", "retry_after", "delay"):
                if fault is not None and key in fault:
                    entry[key] = fault[key]
            if kind == "trickle":
                entry["trickle"] = chaos.config["trickle"]
            if kind in UNHANDLED:
                entry["applied"] = False
            self.chaos_log.append(entry)
            return {"entry": entry, "fault": fault}

    def chaos_done(
        self, entry: dict | None, sent: int, answer: Response | None = None, completed: bool | None = None
    ) -> None:
        """Finish a chaos log line: what the client was sent (0: nothing), the emulator's own answer when it handled
        the request (applied: it answered 2xx, so the request took effect), whether a trickle reached its last byte."""
        if entry is None:
            return
        with self.lock:
            entry["sent"] = sent
            if answer is not None:
                entry["answer"] = answer.status
                entry["applied"] = 200 <= answer.status < 300
                payload = answer.payload
                if isinstance(payload, dict) and isinstance(payload.get("success"), list):
                    entry["items"] = {"success": len(payload["success"]), "failed": len(payload.get("failed") or [])}
            else:
                entry["applied"] = False
            if completed is not None:
                entry["completed"] = completed
            entry["finished"] = True

    def stats(self) -> dict:
        """{"requests": API requests answered, "cpu_seconds": this process's CPU time, "wall_seconds": since start}."""
        with self.lock:
            requests = self.request_count
        return {
            "requests": requests,
            "cpu_seconds": time.process_time(),
            "wall_seconds": time.monotonic() - self.started,
        }

    def authorize(self, data: Any) -> dict:
        """A one-time authorisation code, as if the user had allowed the client: {"code": ...}."""
        with self.lock:
            return {"code": api.authorize(self.world, data)}

    def state(self) -> dict:
        """The world in the seed format."""
        with self.lock:
            return self.world.as_seed()

    def add_faults(self, faults: list[dict]) -> list[dict]:
        """Queue faults; answers every pending one."""
        with self.lock:
            self.faults.extend(faults)
            return [dict(f) for f in self.faults]

    def take_fault(self, method: str, path: str) -> dict | None:
        """The fault that applies to a request, counted down; None lets the request through.

        Every pending fault matching the request sees it: one still skipping counts it off its `skip` (and lets
        it through); of the others, the first in queue order applies and counts it off its `times`.
        """
        chosen = None
        with self.lock:
            for fault in self.faults:
                if (fault["method"] is None or fault["method"] == method) and path.startswith(fault["path"]):
                    if fault["skip"] > 0:
                        fault["skip"] -= 1
                    elif chosen is None:
                        chosen = fault
            if chosen is not None:
                chosen["times"] -= 1
                if chosen["times"] <= 0:
                    self.faults.remove(chosen)
        return chosen

    def record(self, method: str, path: str, query: dict, status: int, user: str | None, service: str | None) -> None:
        """Append to the request log (and count the request)."""
        with self.lock:
            self.request_count += 1
            self.log.append(
                {"method": method, "path": path, "query": query, "status": status, "user": user, "service": service}
            )

    # -- API --

    def _token(self, headers: Any) -> Token | None:
        """The token a request carries, if it is known, unexpired and sent with its kind's prefix; call with the lock
        held."""
        value = headers.get("Authorization") or ""
        for kind, prefix in AUTH_PREFIXES.items():
            if value[: len(prefix)].lower() == prefix.lower():
                token = self.world.tokens.get(value[len(prefix) :].strip())
                if token is None or token.kind != kind or token.expired(self.now()) or token.access_revoked:
                    return None
                return token
        return None

    def identify(self, headers: Any) -> tuple[str | None, str | None]:
        """(username, service) of the token a request carries, for logging faulted requests."""
        with self.lock:
            token = self._token(headers)
            return (token.user, token.service) if token else (None, None)

    def _rate_limited(self, token: str) -> int | None:
        """Seconds to wait when the token is over its limit, else None (and the request is counted)."""
        if self.rate_limit <= 0:
            return None
        now = self.clock() + self.offset
        hits = self.hits.setdefault(token, collections.deque())
        while hits and hits[0] <= now - RATE_WINDOW:
            hits.popleft()
        if len(hits) >= self.rate_limit:
            return max(1, math.ceil(hits[0] + RATE_WINDOW - now))
        hits.append(now)
        return None

    def handle(
        self, method: str, path: str, query: dict, headers: Any, body: bytes, host: str, scheme: str = "http"
    ) -> Response:
        """Answer one API request (scheme and host make the absolute next/previous URLs of list pages)."""
        if path == "/oauth2/access_token":
            if method != "POST":
                return Response(405, {"detail": f'Method "{method}" not allowed.'})
            form = _form(headers, body)
            with self.lock:
                status, payload = api.access_token(self.world, form, self.now())
            return Response(status, payload)
        read = api.READ_ROUTES.get(path)
        write = api.WRITE_ROUTES.get(path)
        if read is None and write is None:
            return Response(404, {"detail": "Not found."})
        if (read is not None and method != "GET") or (write is not None and method != "POST"):
            return Response(405, {"detail": f'Method "{method}" not allowed.'})
        with self.lock:
            token = self._token(headers)
            if token is None:
                return Response(401, {"detail": "Invalid token."})
            response = Response(200, None, user=token.user, service=token.service)
            wait = self._rate_limited(token.token)
            if wait is not None:
                response.status, response.headers = 429, {"Retry-After": str(wait)}
                response.payload = {"detail": f"Request was throttled. Expected available in {wait} seconds."}
                return response
            try:
                ctx = api.Context(self.world, token, query, host, path, scheme, self.now())
                if read is not None:
                    response.payload = read(ctx)
                elif token.kind != "oauth2":
                    response.status = 403
                    response.payload = {"detail": "Simple tokens are read-only: this action needs an OAuth2 token."}
                else:
                    response.status, response.payload = write(ctx, _json_body(body))
            except api.ApiError as exc:
                response.status, response.payload, response.headers = exc.status, exc.body, exc.headers
            return response


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError as exc:
        raise api.ApiError(400, f"JSON parse error - {exc}") from exc


def _form(headers: Any, body: bytes) -> dict[str, str]:
    text = body.decode("utf-8", "replace")
    if "json" in (headers.get("Content-Type") or ""):
        try:
            data = json.loads(text)
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return dict(parse_qsl(text, keep_blank_values=True))


class Handler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive, every answer with a Content-Length."""

    protocol_version = "HTTP/1.1"
    server_version = "exist-emulator"
    # Headers and body leave in one buffered write, with Nagle off, so keep-alive clients see no delayed-ACK stalls.
    wbufsize = -1
    disable_nagle_algorithm = True
    # An idle keep-alive connection gives its thread back after this many seconds.
    timeout = 300
    server: EmulatorServer
    # Seconds between the bytes of the answer being sent (a trickle fault); 0: all at once.
    _trickle: float = 0
    # Seconds the whole answer takes to go out a byte at a time (a chaos trickle); 0: no such trickle.
    _trickle_total: float = 0

    def version_string(self) -> str:
        """The Server header."""
        return self.server_version

    def do_GET(self) -> None:  # pylint: disable=invalid-name
        """Handle GET."""
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET  # pylint: disable=invalid-name

    def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
        """Only with --verbose; the request line never holds a token (they travel in headers and bodies)."""
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def _send(self, status: int, payload: Any, headers: dict | None = None) -> bool:
        """Answer with JSON; whether the whole answer went out (False: the client left during a trickle)."""
        return self._send_bytes(status, json.dumps(payload).encode("utf-8"), "application/json", headers)

    def _send_bytes(self, status: int, data: bytes, content_type: str, headers: dict | None = None) -> bool:
        trickle, total = self._trickle, self._trickle_total
        if trickle or total:
            # Build the whole answer (status line and headers included) in memory, then let it out byte by byte.
            wfile, self.wfile = self.wfile, io.BytesIO()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if trickle:
            # The trickled answer ends the connection: say so, or a keep-alive client reuses a socket being closed.
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        if trickle or total:
            answer, self.wfile = self.wfile.getvalue(), wfile
            self._trickle = self._trickle_total = 0
            # A chaos trickle spreads the answer over `total` seconds, whatever its length.
            return self._write_trickling(answer, trickle or total / max(1, len(answer)))
        return True

    def _write_trickling(self, answer: bytes, pause: float) -> bool:
        """A server that answers a byte at a time: per-read socket timeouts never fire, only a whole-answer deadline
        does. Whether the client stayed to the last byte."""
        self.close_connection = True
        try:
            for index in range(len(answer)):
                if index:
                    time.sleep(pause)
                # Straight to the socket: a byte left in wfile's buffer would fail again at the handler's last flush.
                self.connection.sendall(answer[index : index + 1])
        except OSError:
            return False  # the client gave up: what a deadline is for
        return True

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        try:
            parts = urlsplit(self.path)
            body = self._read_body()
            if parts.path == "/_emulator" or parts.path.startswith("/_emulator/"):
                self._admin(parts.path, body)
            else:
                self._api(parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)), body)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # A bug must become a 500 for this request, not a dead connection with no answer.
            self._send(500, {"detail": f"emulator error: {type(exc).__name__}: {exc}"})

    def _api(self, path: str, query: dict, body: bytes) -> None:
        emulator = self.server.emulator
        method = self.command
        host = self.headers.get("Host") or self.server.url.split("//", 1)[1]
        fault = emulator.take_fault(method, path)
        entry = None
        if fault is None:
            # A queued fault wins; chaos draws only for the requests no queued fault took.
            chaos = emulator.chaos_decide(method, path, self.headers, body)
            if chaos is not None:
                fault, entry = chaos["fault"], chaos["entry"]
        self._trickle = fault.get("trickle", 0) if fault is not None else 0
        self._trickle_total = fault.get("trickle_total", 0) if fault is not None else 0
        fails = fault is not None and bool(fault.get("drop") or fault.get("status") is not None)
        if fault is not None:
            if fault.get("delay"):
                time.sleep(fault["delay"])
            if fails and not fault.get("after_apply"):
                user, service = emulator.identify(self.headers)
                emulator.chaos_done(entry, self._fail(fault, method, path, query, user, service))
                return
        response = emulator.handle(method, path, query, self.headers, body, host, self.server.scheme)
        if fails:
            # after_apply: the request happened; the client gets the fault's answer (an error, a drop, 200 {}...).
            emulator.chaos_done(
                entry, self._fail(fault, method, path, query, response.user, response.service), response
            )
            return
        emulator.record(method, path, query, response.status, response.user, response.service)
        completed = self._send(response.status, response.payload, response.headers)
        emulator.chaos_done(entry, response.status, response, completed if entry and "trickle" in entry else None)

    def _fail(self, fault: dict, method: str, path: str, query: dict, user: str | None, service: str | None) -> int:
        """Answer with the fault; the status sent (0: the connection was dropped without an answer)."""
        emulator = self.server.emulator
        if fault.get("drop"):
            emulator.record(method, path, query, 0, user, service)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return 0
        status = fault["status"]
        headers = {}
        if fault.get("retry_after") is not None:
            headers["Retry-After"] = str(fault["retry_after"])
        emulator.record(method, path, query, status, user, service)
        if "raw_body" in fault:
            self._send_bytes(status, fault["raw_body"].encode("utf-8"), fault.get("content_type", "text/html"), headers)
        else:
            self._send(status, fault.get("body", {"detail": f"Injected fault ({status})."}), headers)
        return status

    def _admin(self, path: str, body: bytes) -> None:
        if not is_loopback(self.client_address[0]):
            self._send(403, {"detail": "The emulator admin API only answers loopback clients."})
            return
        route = ADMIN_ROUTES.get((self.command, path.rstrip("/")))
        if route is None:
            self._send(404, {"detail": "Not found."})
            return
        try:
            payload = route(self.server.emulator, body)
        except (SeedError, ValueError, UnicodeDecodeError) as exc:
            self._send(400, {"detail": str(exc)})
            return
        self._send(200, payload)


def _admin_reset(emulator: Emulator, body: bytes) -> dict:
    seed = parse_seed_text(body.decode("utf-8"))
    emulator.reset(default_world() if seed is None else world_from_seed(seed))
    return {"reset": True}


def _admin_requests(emulator: Emulator, _body: bytes) -> list:
    with emulator.lock:
        return list(emulator.log)


def _admin_clear_requests(emulator: Emulator, _body: bytes) -> list:
    with emulator.lock:
        emulator.log.clear()
    return []


def _admin_clear_faults(emulator: Emulator, _body: bytes) -> list:
    with emulator.lock:
        emulator.faults.clear()
    return []


def _admin_set_config(emulator: Emulator, body: bytes) -> dict:
    data = json.loads(body or b"{}")
    limit = data.get("rate_limit") if isinstance(data, dict) else None
    # Templating tools may send the number as a string ("0").
    if isinstance(limit, str) and limit.strip().isdigit():
        limit = int(limit)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError("rate_limit must be a non-negative integer")
    with emulator.lock:
        emulator.rate_limit = limit
        emulator.hits.clear()
    return {"rate_limit": limit}


# The admin API: (method, path without a trailing slash) -> what answers it, given the emulator and the request
# body; it returns the 200 answer's JSON, or raises SeedError or ValueError for a 400.
ADMIN_ROUTES: dict[tuple[str, str], Callable[[Emulator, bytes], Any]] = {
    ("POST", "/_emulator/reset"): _admin_reset,
    ("GET", "/_emulator/state"): lambda emulator, _body: emulator.state(),
    ("GET", "/_emulator/requests"): _admin_requests,
    ("DELETE", "/_emulator/requests"): _admin_clear_requests,
    ("GET", "/_emulator/faults"): lambda emulator, _body: emulator.add_faults([]),
    ("POST", "/_emulator/faults"): lambda emulator, body: emulator.add_faults(
        validate_faults(json.loads(body or b"[]"))
    ),
    ("DELETE", "/_emulator/faults"): _admin_clear_faults,
    ("GET", "/_emulator/chaos"): lambda emulator, _body: emulator.chaos_json(),
    ("POST", "/_emulator/chaos"): lambda emulator, body: emulator.set_chaos(json.loads(body or b"{}")),
    ("DELETE", "/_emulator/chaos"): lambda emulator, _body: emulator.chaos_off(),
    ("GET", "/_emulator/chaos/log"): lambda emulator, _body: emulator.chaos_entries(),
    ("GET", "/_emulator/clock"): lambda emulator, _body: emulator.clock_json(),
    ("POST", "/_emulator/clock"): lambda emulator, body: emulator.set_clock(json.loads(body or b"{}")),
    ("POST", "/_emulator/authorize"): lambda emulator, body: emulator.authorize(json.loads(body or b"{}")),
    ("GET", "/_emulator/stats"): lambda emulator, _body: emulator.stats(),
    ("GET", "/_emulator/config"): lambda emulator, _body: {"rate_limit": emulator.rate_limit},
    ("POST", "/_emulator/config"): _admin_set_config,
}


class EmulatorServer(ThreadingHTTPServer):
    """A threaded HTTP server holding one Emulator; HTTPS when given an SSL context."""

    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        emulator: Emulator,
        verbose: bool = False,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.emulator = emulator
        self.verbose = verbose
        self.ssl_context = ssl_context
        super().__init__(address, Handler)
        if ssl_context is not None:
            # Accepted connections come out as TLS sockets; their handshake waits for finish_request, which runs in
            # the connection's thread, so a slow or broken client never holds up the accept loop.
            self.socket = ssl_context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Handshake first when serving TLS: a failed one ends this connection only, quietly (unless verbose)."""
        if self.ssl_context is not None:
            try:
                request.settimeout(TLS_HANDSHAKE_TIMEOUT)
                request.do_handshake()
            except (OSError, ValueError) as exc:  # ssl.SSLError, a reset, a timeout, a plain-HTTP client...
                if self.verbose:
                    sys.stderr.write(f"{client_address[0]} TLS handshake failed: {exc}\n")
                return
        super().finish_request(request, client_address)

    @property
    def scheme(self) -> str:
        """http, or https when serving TLS."""
        return "https" if self.ssl_context is not None else "http"

    @property
    def url(self) -> str:
        """The base URL clients use."""
        host, port = self.server_address[:2]
        return f"{self.scheme}://[{host}]:{port}" if ":" in host else f"{self.scheme}://{host}:{port}"


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    """A TLS server context with that certificate chain (PEM) and key; OSError (ssl.SSLError) when unusable."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def make_server(
    host: str = "127.0.0.1",
    port: int = 8787,
    world: World | None = None,
    rate_limit: int = 300,
    verbose: bool = False,
    tls_cert: str | None = None,
    tls_key: str | None = None,
) -> EmulatorServer:
    """Bind a server (port 0 picks a free one); call serve_forever() to run it.

    With tls_cert and tls_key (PEM files: the certificate chain and its key; both or neither) it serves HTTPS.
    """
    if (tls_cert is None) != (tls_key is None):
        raise ValueError(
            "tls_cert and tls_key go together: " + ("tls_key" if tls_key is None else "tls_cert") + " is missing"
        )
    # The certificate is loaded before binding, so that a bad one leaves no socket behind.
    context = tls_context(tls_cert, tls_key) if tls_cert is not None and tls_key is not None else None
    return EmulatorServer((host, port), Emulator(world, rate_limit), verbose, context)
