"""Chaos mode: seeded random faults on a fraction of the API requests, and the log of every fault injected.

A chaos configuration (set with POST /_emulator/chaos, Admin.chaos() or the --chaos flags) makes the emulator draw,
for every API request, whether to inject a fault and which. The draw is a function of the seed, the user the request
belongs to and the number of that user's request (the user's first, second... since chaos was set), so a rerun
whose clients send the same requests per user gets the same faults, whatever the order in which users' requests
interleave. Every fault injected is a line of the chaos log: which request, which user, which kind, whether the
request was applied, what the client was sent.
"""

from __future__ import annotations

import random
from typing import Any

# The kinds of fault, in the order the README lists them.
KINDS = (
    "429",  # 429 without Retry-After; not applied
    "429_retry_after",  # 429 with Retry-After: retry_after; not applied
    "5xx_before",  # 500, 502, 503 or 504; not applied
    "drop_before",  # the connection closed without an answer; not applied
    "5xx_after",  # applied, then answered 500, 502, 503 or 504 (a lost answer)
    "drop_after",  # applied, then the connection closed without an answer (a lost answer)
    "delay",  # handled `delay` seconds late (past a client's timeout): applied
    "trickle",  # applied; the whole answer (headers too) spread over `trickle` seconds, a byte at a time
    "revoke_token",  # the request's access token stops working from then on (its refresh token still refreshes)
    "revoke_pair",  # the request's pair (access and refresh token) stops working from then on
)
# Kinds whose request is answered without being handled: nothing it asked for happens.
UNHANDLED = frozenset(("429", "429_retry_after", "5xx_before", "drop_before"))
STATUSES_5XX = (500, 502, 503, 504)
# 502 and 504 come as a proxy's HTML page, 500 and 503 as JSON.
HTML_5XX = frozenset((502, 504))
DEFAULTS: dict[str, Any] = {
    "rate": 0.05,
    "seed": 0,
    "retry_after": 1,
    "delay": 35.0,
    "trickle": 60.0,
    "paths": [""],
}
CHAOS_KEYS = frozenset(("rate", "seed", "kinds", "retry_after", "delay", "trickle", "paths"))


def _number(data: dict, key: str, low: float, high: float, what: str) -> float:
    value = data.get(key, DEFAULTS[key])
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{key} must be {what}, got {value!r}")
    return value


def _kinds(data: dict) -> dict:
    """The configuration's kinds as {kind: weight}, checked (a list of kinds weighs each 1)."""
    kinds = data.get("kinds", list(KINDS))
    if isinstance(kinds, list):
        if not all(isinstance(kind, str) for kind in kinds):
            raise ValueError("kinds must be a list of kind names or an object of kind: weight")
        kinds = {kind: 1 for kind in kinds}
    if not isinstance(kinds, dict) or not kinds:
        raise ValueError("kinds must be a non-empty list of kind names or an object of kind: weight")
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown chaos kind(s): {', '.join(sorted(unknown))} (known: {', '.join(KINDS)})")
    for kind, weight in kinds.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise ValueError(f"the weight of kind {kind} must be a number >= 0, got {weight!r}")
    if not any(kinds.values()):
        raise ValueError("at least one kind needs a weight above 0")
    return kinds


def validate_chaos(data: Any) -> dict:
    """Check a chaos configuration and normalise it (defaults filled in, kinds as {kind: weight}).

    {"rate": 0-1 (share of API requests faulted), "seed": integer, "kinds": [kind, ...] or {kind: weight},
    "retry_after": seconds (0-3600), "delay": seconds (0-600, not 0), "trickle": seconds a trickled answer takes
    (0-600, not 0), "paths": [path prefix, ...]}; all optional. Raises ValueError naming the key.
    """
    if not isinstance(data, dict):
        raise ValueError("chaos must be a JSON object")
    unknown = set(data) - CHAOS_KEYS
    if unknown:
        raise ValueError(f"unknown chaos key(s): {', '.join(sorted(unknown))}")
    rate = _number(data, "rate", 0, 1, "a share of requests from 0 to 1")
    seed = data.get("seed", DEFAULTS["seed"])
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    retry_after = data.get("retry_after", DEFAULTS["retry_after"])
    if isinstance(retry_after, bool) or not isinstance(retry_after, int) or not 0 <= retry_after <= 3600:
        raise ValueError(f"retry_after must be a whole number of seconds from 0 to 3600, got {retry_after!r}")
    delay = _number(data, "delay", 0, 600, "a number of seconds from 0 to 600")
    trickle = _number(data, "trickle", 0, 600, "a number of seconds from 0 to 600")
    if not delay or not trickle:
        raise ValueError("delay and trickle must be more than 0 seconds")
    kinds = _kinds(data)
    paths = data.get("paths", DEFAULTS["paths"])
    if not isinstance(paths, list) or not paths or not all(isinstance(path, str) for path in paths):
        raise ValueError("paths must be a non-empty list of path prefixes")
    return {
        "rate": rate,
        "seed": seed,
        # In KINDS order, so that the same kinds in another order draw the same.
        "kinds": {kind: kinds[kind] for kind in KINDS if kind in kinds},
        "retry_after": retry_after,
        "delay": delay,
        "trickle": trickle,
        "paths": list(paths),
    }


class Chaos:
    """One chaos configuration in force: the per-user request counters and the draw. Callers hold the emulator's lock."""

    def __init__(self, config: dict) -> None:
        self.config = config
        self.kinds = list(config["kinds"])
        self.weights = [config["kinds"][kind] for kind in self.kinds]
        # Requests seen per subject (a username, or "(unknown)" for a request no user can be told for).
        self.counters: dict[str, int] = {}
        # Every access and refresh token seen, with its user: a request with a token that has since been revoked
        # or refreshed away still counts as that user's.
        self.owners: dict[str, str] = {}
        self.seen = 0

    def covers(self, path: str) -> bool:
        """Whether the configuration's paths cover a request path."""
        return any(path.startswith(prefix) for prefix in self.config["paths"])

    def draw(self, subject: str) -> tuple[int, str | None, dict]:
        """(the subject's request number, the kind to inject or None, details such as the 5xx status)."""
        self.seen += 1
        number = self.counters.get(subject, 0) + 1
        self.counters[subject] = number
        # random.Random seeded with text hashes it with SHA-512: the same in every process, unlike hash().
        rng = random.Random(f"exist-chaos:{self.config['seed']}:{subject}:{number}")
        if rng.random() >= self.config["rate"]:
            return number, None, {}
        kind = rng.choices(self.kinds, self.weights)[0]
        details: dict[str, Any] = {}
        if kind in ("5xx_before", "5xx_after"):
            details["status"] = rng.choice(STATUSES_5XX)
        return number, kind, details


def fault_for(kind: str, details: dict, config: dict) -> dict | None:
    """The fault (in the queued faults' format, plus chaos-only keys) that makes a request suffer `kind`.

    None for the revoking kinds: the revocation is done before the request is handled, which then meets a dead token.
    """
    if kind == "429":
        return {"status": 429, "body": {"detail": "Request was throttled."}}
    if kind == "429_retry_after":
        wait = config["retry_after"]
        return {
            "status": 429,
            "retry_after": wait,
            "body": {"detail": f"Request was throttled. Expected available in {wait} seconds."},
        }
    if kind in ("5xx_before", "5xx_after"):
        status = details["status"]
        fault: dict[str, Any] = {"status": status, "after_apply": kind == "5xx_after"}
        if status in HTML_5XX:
            fault["raw_body"] = f"<html><body><h1>{status}</h1>Injected chaos.</body></html>"
        else:
            fault["body"] = {"detail": f"Injected chaos ({status})."}
        return fault
    if kind in ("drop_before", "drop_after"):
        return {"drop": True, "after_apply": kind == "drop_after"}
    if kind == "delay":
        return {"delay": config["delay"]}
    if kind == "trickle":
        return {"trickle_total": config["trickle"]}
    return None
