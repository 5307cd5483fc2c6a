"""A fleet: many users of one service, each with one OAuth2 token, for the fleet workflow's tests and benchmarks.

    seed = fleet_seed(users=1000, attributes=20, expires_within_days=30)
    world = world_from_seed(seed)            # or Admin.reset(seed), or exist-emulator --fleet 1000,20
    store = fleet_store(seed)                # what the collection's token module would have written for it
    write_store(store, "tokens.yml")         # YAML, mode 0600

Everything is a function of the arguments (and `now`): the same call gives the same seed.
"""

from __future__ import annotations

import datetime
import os
import random
import tempfile
from typing import Any

import yaml

from .templates import ALL_SCOPES, GROUPS, LOW_PRIORITY, TEMPLATES
from .world import FAR_FUTURE, format_moment, parse_moment, utc_now

# The services that own some of the fleet's attributes before the fleet service takes them over.
OTHER_SERVICES = {
    "withings": "Withings",
    "fitbit": "Fitbit",
    "apple_health": "Apple Health",
    "rescuetime": "RescueTime",
    "exist_ios": "Exist for iOS",
}
TIMEZONES = ("UTC", "Europe/London", "America/New_York", "Asia/Tokyo", "Australia/Sydney")
# Every read and write scope, spelt out (as Exist would grant them, rather than the seed format's `all`).
FLEET_SCOPES = sorted(ALL_SCOPES)
# Share of a user's attributes that the fleet service owns already, that another service owns (the rest have
# no owner and are inactive), and that have a few days of values.
OWNED_SHARE = 0.35
OTHER_SHARE = 0.5
VALUES_SHARE = 0.25
VALUE_DAYS = 3
# Every EXPIRING_EVERY-th user (user0001, user0011, ...) has a token that expires within expires_within_days.
EXPIRING_EVERY = 10
TOKEN_LIFETIME_DAYS = 365


def _template_pool() -> list[str]:
    """Templates a fleet user may have: not low priority, taken round-robin over the groups (so that 20 of them
    span most groups), in the emulator's template order within each group."""
    by_group: dict[str, list[str]] = {group: [] for group in GROUPS}
    for template in TEMPLATES.values():
        if template.priority < LOW_PRIORITY:
            by_group[template.group].append(template.name)
    pool = []
    for rank in range(max(len(names) for names in by_group.values())):
        pool.extend(names[rank] for names in by_group.values() if rank < len(names))
    return pool


TEMPLATE_POOL = _template_pool()


def _value(value_type: int, rng: random.Random) -> Any:
    """A valid value of a value type."""
    if value_type == 0:
        return rng.randint(0, 12000)
    if value_type == 1:
        return round(rng.uniform(0, 100), 2)
    if value_type == 2:
        return f"note {rng.randint(1, 99)}"
    if value_type == 3:
        return rng.randint(0, 600)
    if value_type in (4, 6):
        return rng.randint(0, 1439)
    if value_type == 5:
        return round(rng.random(), 3)
    if value_type == 7:
        return rng.randint(0, 1)
    return rng.randint(1, 9)


def _now(now: str | datetime.datetime | None) -> datetime.datetime:
    if now is None:
        # The hour: so that calls within it agree, and a token "within N days" is within N days of the real time.
        return utc_now().replace(minute=0, second=0, microsecond=0)
    return parse_moment(now)


def fleet_username(index: int, users: int) -> str:
    """user0001 ... (at least four digits, more for fleets of 10,000 or more)."""
    return f"user{index:0{max(4, len(str(users)))}d}"


def fleet_seed(
    users: int = 1000,
    attributes: int = 20,
    service: str = "fleet_service",
    client_id: str = "fleet-client",
    client_secret: str = "fleet-secret",
    expires_within_days: float | None = None,
    seed: int = 0,
    now: str | datetime.datetime | None = None,
) -> dict:
    """A seed (the world.py format) of `users` users of `service`.

    - Users user0001...: each with one OAuth2 token of `service` ("fleet-token-0001", refresh
      "fleet-refresh-0001"), every read and write scope (listed, not `all`), a timezone from TIMEZONES.
    - Each has the same `attributes` templates (the first of TEMPLATE_POOL: round-robin over the groups, no low
      priority ones), owned per user at random (from `seed`): about 35% by `service` already, 50% by another
      service (OTHER_SERVICES; it is their only available service), the rest by nobody (inactive). About a quarter
      have values on the VALUE_DAYS days before `now`'s date.
    - Tokens expire 30 to 365 days after `now` (whole seconds); with `expires_within_days`, every tenth user
      (user0001, user0011, ...) has one that expires strictly within that many days instead, and everyone else's
      expires later than that.
    - One OAuth2 client, `client_id` / `client_secret`, acting as `service` (no pending codes: make them with the
      admin API's authorize).

    `now` (ISO 8601 text or a datetime; default the current hour, UTC) is what the expiries and value dates count
    from. A user's attributes and token depend only on `seed`, `now`, `expires_within_days` and the user's number, not on
    the size of the fleet (and fewer `attributes` give a prefix of more).
    """
    if isinstance(users, bool) or not isinstance(users, int) or users < 1:
        raise ValueError("users must be a positive integer")
    if isinstance(attributes, bool) or not isinstance(attributes, int) or not 0 <= attributes <= len(TEMPLATE_POOL):
        raise ValueError(f"attributes must be an integer from 0 to {len(TEMPLATE_POOL)}")
    if expires_within_days is not None and (
        isinstance(expires_within_days, bool)
        or not isinstance(expires_within_days, (int, float))
        or expires_within_days <= 0
    ):
        raise ValueError("expires_within_days must be a positive number of days")
    if service in OTHER_SERVICES:
        raise ValueError(f"service must not be one of the other services ({', '.join(OTHER_SERVICES)})")
    start = _now(now)
    today = start.date()
    value_dates = [(today - datetime.timedelta(days=n)).isoformat() for n in range(VALUE_DAYS, 0, -1)]
    templates = TEMPLATE_POOL[:attributes]
    others = list(OTHER_SERVICES)
    entries = []
    for index in range(1, users + 1):
        rng = random.Random(f"exist-fleet:{seed}:{index}")
        username = fleet_username(index, users)
        number = username[len("user") :]
        timezone = rng.choice(TIMEZONES)
        soon = expires_within_days is not None and index % EXPIRING_EVERY == 1
        if soon:
            # Spread over (0.05, 0.95) of the window: strictly within it.
            share = ((index // EXPIRING_EVERY) % 10 + 0.5) / 10
            expires = start + datetime.timedelta(days=expires_within_days * share)
        else:
            low = max(30.0, (expires_within_days or 0) + 1)
            high = max(float(TOKEN_LIFETIME_DAYS), low + 30)
            expires = start + datetime.timedelta(days=rng.uniform(low, high))
        user_attributes = []
        for name in templates:
            draw = rng.random()
            if draw < OWNED_SHARE:
                owner, available, active = service, [], True
            elif draw < OWNED_SHARE + OTHER_SHARE:
                owner = rng.choice(others)
                available, active = [owner], True
            else:
                owner, available, active = None, [], False
            entry: dict[str, Any] = {
                "template": name,
                "service": owner,
                "manual": False,
                "active": active,
                "available_services": available,
            }
            if rng.random() < VALUES_SHARE:
                value_type = TEMPLATES[name].value_type
                entry["values"] = {day: _value(value_type, rng) for day in value_dates}
            user_attributes.append(entry)
        entries.append(
            {
                "username": username,
                "timezone": timezone,
                "first_name": "Fleet",
                "last_name": f"User {number}",
                "tokens": [
                    {
                        "token": f"fleet-token-{number}",
                        "service": service,
                        "scopes": list(FLEET_SCOPES),
                        "refresh_token": f"fleet-refresh-{number}",
                        "kind": "oauth2",
                        "expires_at": format_moment(expires.replace(microsecond=0)),
                    }
                ],
                "attributes": user_attributes,
            }
        )
    return {
        "services": [{"name": service, "label": service.replace("_", " ").title()}]
        + [{"name": name, "label": label} for name, label in OTHER_SERVICES.items()],
        "clients": [{"client_id": client_id, "client_secret": client_secret, "service": service, "codes": []}],
        "users": entries,
    }


def fleet_store(seed: dict, service: str | None = None) -> dict:
    """The token store the collection's token module would write for a seed's users of `service` (default: the
    service of the seed's first client): {username: {username, access_token, refresh_token, expires_at (ISO 8601
    UTC with Z), scope (space-separated)}}, for each user with an OAuth2 token (with a refresh token) of that
    service (the first such token). A token seeded without an expiry gets the far-future one; `expires_in_days`
    counts from now."""
    if service is None:
        clients = seed.get("clients") or []
        if not clients:
            raise ValueError("the seed has no client: name the service")
        service = clients[0]["service"]
    now = utc_now()
    store = {}
    for user in seed.get("users") or []:
        for token in user.get("tokens") or []:
            if token.get("kind", "oauth2") != "oauth2" or token.get("service") != service:
                continue
            if not token.get("refresh_token"):
                continue
            if token.get("expires_at") is not None:
                expires = parse_moment(token["expires_at"])
            elif token.get("expires_in_days") is not None:
                expires = now + datetime.timedelta(days=token["expires_in_days"])
            else:
                expires = FAR_FUTURE
            store[user["username"]] = {
                "username": user["username"],
                "access_token": token["token"],
                "refresh_token": token["refresh_token"],
                "expires_at": format_moment(expires),
                "scope": " ".join(token.get("scopes") or []),
            }
            break
    return store


def write_store(store: dict, path: str) -> None:
    """Write a token store as YAML with mode 0600, whole or not at all (a temporary file renamed over `path`)."""
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".fleet-store-", dir=directory)  # mkstemp makes it 0600
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            yaml.safe_dump(store, stream, default_flow_style=False, sort_keys=True)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
