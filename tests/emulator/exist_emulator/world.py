"""The emulated world (services, clients, users, tokens, attributes) and its seed format."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import json
from importlib import resources
from typing import Any, Callable

import yaml
import zoneinfo

from .templates import CUSTOM_PRIORITY, GROUPS, TEMPLATES, VALUE_TYPES, check_value, expand_scopes


class SeedError(ValueError):
    """A seed document that does not describe a valid world."""


# The expiry of a token seeded without one: it never expires in practice (and existing seeds keep working).
FAR_FUTURE = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc)


def utc_now() -> datetime.datetime:
    """The real time, in UTC (the emulator's clock adds its offset to this)."""
    return datetime.datetime.now(datetime.timezone.utc)


def parse_moment(value: Any) -> datetime.datetime:
    """An aware UTC datetime from ISO 8601 text (a trailing Z allowed; no offset means UTC) or a datetime.

    Raises ValueError when it is neither.
    """
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        moment = datetime.datetime.fromisoformat(text)
    else:
        raise ValueError(f"expected an ISO 8601 date and time, got {value!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def format_moment(moment: datetime.datetime) -> str:
    """ISO 8601 in UTC with whole seconds and a Z, as the token store writes expires_at."""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass
class Token:
    """An access token (oauth2 or simple) of one user."""

    token: str
    user: str
    service: str | None
    scopes: list[str]
    refresh_token: str | None = None
    kind: str = "oauth2"
    # When the access token stops working (UTC); refresh tokens never expire (the project's assumption).
    expires_at: datetime.datetime = FAR_FUTURE
    # The access token was revoked (chaos mode's revoke_token): refused like an unknown one; the refresh token of
    # the pair still refreshes.
    access_revoked: bool = False
    expanded: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        self.expanded = expand_scopes(self.scopes)

    def expired(self, now: datetime.datetime) -> bool:
        """Whether the access token has expired at `now` (expired from expires_at on, inclusive)."""
        return now >= self.expires_at

    def as_seed(self) -> dict:
        """The token in the seed format (expires_at only when it is not the far-future default)."""
        data = {
            "token": self.token,
            "service": self.service,
            "scopes": list(self.scopes),
            "refresh_token": self.refresh_token,
            "kind": self.kind,
        }
        if self.expires_at != FAR_FUTURE:
            data["expires_at"] = format_moment(self.expires_at)
        if self.access_revoked:
            data["access_revoked"] = True
        return data


@dataclasses.dataclass
class Attribute:
    """One attribute of one user, with its values per day."""

    name: str
    label: str
    group: str
    value_type: int
    priority: int
    template: str | None = None
    service: str | None = None
    manual: bool = False
    active: bool = True
    available_services: list[str] = dataclasses.field(default_factory=list)
    values: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def value_type_description(self) -> str:
        """The template's description, or the generic one of the value type."""
        if self.template in TEMPLATES:
            return TEMPLATES[self.template].value_type_description
        return VALUE_TYPES[self.value_type]

    def sort_key(self) -> tuple:
        """Stable order: group priority, attribute priority, name."""
        return (GROUPS[self.group]["priority"], self.priority, self.name)

    def as_seed(self) -> dict:
        """The attribute in the seed format."""
        if self.template is not None:
            data: dict[str, Any] = {"template": self.template}
            template = TEMPLATES[self.template]
            if self.label != template.label:
                data["label"] = self.label
            if self.priority != template.priority:
                data["priority"] = self.priority
        else:
            data = {
                "name": self.name,
                "label": self.label,
                "group": self.group,
                "value_type": self.value_type,
                "priority": self.priority,
            }
        data.update(
            {
                "service": self.service,
                "manual": self.manual,
                "active": self.active,
                "available_services": list(self.available_services),
            }
        )
        if self.values:
            # Sorted by date only: a value may be null (a row without data).
            data["values"] = dict(sorted(self.values.items(), key=lambda row: row[0]))
        return data


@dataclasses.dataclass
class User:
    """A user with their attributes, keyed by name."""

    username: str
    timezone: str = "UTC"
    first_name: str = ""
    last_name: str = ""
    attributes: dict[str, Attribute] = dataclasses.field(default_factory=dict)
    # What Exist computes from the values (averages per attribute and week, correlations, insights), seeded as the
    # API's objects and served as they are: the emulator computes none of them.
    averages: list[dict] = dataclasses.field(default_factory=list)
    correlations: list[dict] = dataclasses.field(default_factory=list)
    insights: list[dict] = dataclasses.field(default_factory=list)

    def group_of(self, name: str) -> str | None:
        """The group of an attribute named in an average, correlation or insight: that of the user's attribute of
        that name, else its template's; None when it is neither."""
        attribute = self.attributes.get(name)
        if attribute is not None:
            return attribute.group
        template = TEMPLATES.get(name)
        return template.group if template is not None else None


@dataclasses.dataclass
class Client:
    """An OAuth2 client acting as one service, with pending authorisation codes.

    codes: {code: {"user": username, "scopes": [...], "redirect_uri": URI or None}}; a code with a redirect_uri
    is exchanged only with that same redirect_uri.
    """

    client_id: str
    client_secret: str
    service: str
    codes: dict[str, dict] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class World:
    """Everything the emulator serves."""

    services: dict[str, str] = dataclasses.field(default_factory=dict)
    clients: dict[str, Client] = dataclasses.field(default_factory=dict)
    users: dict[str, User] = dataclasses.field(default_factory=dict)
    tokens: dict[str, Token] = dataclasses.field(default_factory=dict)
    # (service, refresh token) -> access token, so that refreshing is a dict look-up, not a scan of every token.
    refresh_index: dict[tuple, str] = dataclasses.field(default_factory=dict)

    def add_token(self, token: Token) -> None:
        """Register a token (and its refresh token in the index; the first token with a refresh token keeps it)."""
        self.tokens[token.token] = token
        if token.refresh_token:
            self.refresh_index.setdefault((token.service, token.refresh_token), token.token)

    def remove_token(self, token: Token) -> None:
        """Forget a token, and its refresh token with it."""
        self.tokens.pop(token.token, None)
        key = (token.service, token.refresh_token)
        if self.refresh_index.get(key) == token.token:
            del self.refresh_index[key]

    def token_for_refresh(self, service: str, refresh_token: str) -> Token | None:
        """The OAuth2 token of `service` that `refresh_token` refreshes, or None."""
        if not refresh_token:
            return None
        token = self.tokens.get(self.refresh_index.get((service, refresh_token), ""))
        if token is None or token.refresh_token != refresh_token or token.service != service:
            # Tokens put straight into `tokens` (not through add_token) are found by a scan.
            token = next(
                (t for t in self.tokens.values() if t.service == service and t.refresh_token == refresh_token), None
            )
        return token if token is not None and token.kind == "oauth2" else None

    def service_json(self, name: str | None) -> dict | None:
        """A service as {name, label}, or None."""
        if not name:
            return None
        return {"name": name, "label": self.services.get(name, name)}

    def attribute_json(self, attribute: Attribute, with_services: bool = True) -> dict:
        """The Attribute object of the API (with-values items have no available_services)."""
        data = {
            "template": attribute.template,
            "name": attribute.name,
            "label": attribute.label,
            "group": dict(GROUPS[attribute.group]),
            # Always null in the recorded responses.
            "subgroup": None,
            "service": self.service_json(attribute.service),
            "active": attribute.active,
            "priority": attribute.priority,
            "manual": attribute.manual,
            "value_type": attribute.value_type,
            "value_type_description": attribute.value_type_description,
        }
        if with_services:
            data["available_services"] = [self.service_json(name) for name in attribute.available_services]
        return data

    def as_seed(self) -> dict:
        """The whole world in the seed format, loadable again by from_seed()."""
        users = []
        by_user: dict[str, list[dict]] = {}
        for token in self.tokens.values():
            by_user.setdefault(token.user, []).append(token.as_seed())
        for user in self.users.values():
            tokens = by_user.get(user.username, [])
            attributes = sorted(user.attributes.values(), key=Attribute.sort_key)
            entry: dict[str, Any] = {"username": user.username, "timezone": user.timezone}
            if user.first_name or user.last_name:
                entry.update(first_name=user.first_name, last_name=user.last_name)
            entry.update(tokens=tokens, attributes=[a.as_seed() for a in attributes])
            # Written only when there are some, like an attribute's values: older states stay as they were.
            for key in COMPUTED_LISTS:
                if getattr(user, key):
                    entry[key] = copy.deepcopy(getattr(user, key))
            users.append(entry)
        return {
            "services": [{"name": name, "label": label} for name, label in self.services.items()],
            "clients": [
                {
                    "client_id": c.client_id,
                    "client_secret": c.client_secret,
                    "service": c.service,
                    "codes": [
                        {"code": code, **{k: v for k, v in data.items() if v is not None}}
                        for code, data in c.codes.items()
                    ],
                }
                for c in self.clients.values()
            ],
            "users": users,
        }


def _require(mapping: Any, key: str, where: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise SeedError(f"{where}: missing key '{key}'")
    return mapping[key]


def _date_key(value: Any, where: str) -> str:
    # YAML turns an unquoted 2026-11-27 into a date object.
    if isinstance(value, datetime.date):
        return value.isoformat()
    text = str(value)
    try:
        datetime.date.fromisoformat(text)
    except ValueError as exc:
        raise SeedError(f"{where}: bad date {text!r}") from exc
    return text


def _attribute_from_seed(data: dict, world: World, where: str) -> Attribute:
    if not isinstance(data, dict):
        raise SeedError(f"{where}: an attribute must be a mapping")
    service = data.get("service")
    if service is not None and service not in world.services:
        raise SeedError(f"{where}: unknown service {service!r}")
    template_name = data.get("template")
    if template_name is not None:
        if template_name not in TEMPLATES:
            raise SeedError(f"{where}: unknown template {template_name!r}")
        template = TEMPLATES[template_name]
        attribute = Attribute(
            name=template.name,
            label=data.get("label") or template.label,
            group=template.group,
            value_type=template.value_type,
            priority=int(data.get("priority", template.priority)),
            template=template.name,
        )
    else:
        name = _require(data, "name", where)
        group = _require(data, "group", where)
        if group not in GROUPS:
            raise SeedError(f"{where}: unknown group {group!r}")
        value_type = int(_require(data, "value_type", where))
        if value_type not in VALUE_TYPES:
            raise SeedError(f"{where}: unknown value_type {value_type!r}")
        attribute = Attribute(
            name=str(name),
            label=str(data.get("label") or name),
            group=group,
            value_type=value_type,
            priority=int(data.get("priority") or CUSTOM_PRIORITY),
        )
    attribute.service = service
    attribute.manual = bool(data.get("manual", attribute.template is None))
    attribute.active = bool(data.get("active", True))
    attribute.available_services = [str(s) for s in data.get("available_services") or []]
    values = data.get("values") or {}
    if not isinstance(values, dict):
        raise SeedError(f"{where}: values must be a mapping of date to value")
    attribute.values = {}
    for day, value in values.items():
        key = _date_key(day, where)
        # null is a row without data (seen for a new scale attribute): kept, and served as null by values/.
        if value is not None:
            value, error = check_value(attribute.value_type, value)
            if error:
                raise SeedError(f"{where}: {error}")
        attribute.values[key] = value
    return attribute


def _expires_at(token: dict, now: datetime.datetime, where: str) -> datetime.datetime:
    """A seeded token's expiry: `expires_at` (ISO 8601, UTC unless it says otherwise), `expires_in_days` from `now`,
    or the far-future default."""
    if "expires_at" in token and "expires_in_days" in token:
        raise SeedError(f"{where}: give expires_at or expires_in_days, not both")
    if token.get("expires_at") is not None:
        try:
            return parse_moment(token["expires_at"])
        except (ValueError, OverflowError) as exc:
            raise SeedError(f"{where}: expires_at {token['expires_at']!r} is not an ISO 8601 date and time") from exc
    days = token.get("expires_in_days")
    if days is not None:
        if isinstance(days, bool) or not isinstance(days, (int, float)):
            raise SeedError(f"{where}: expires_in_days must be a number of days")
        try:
            return (now + datetime.timedelta(days=days)).replace(microsecond=0)
        except OverflowError as exc:
            raise SeedError(f"{where}: expires_in_days {days!r} is out of range") from exc
    return FAR_FUTURE


def _client_from_seed(client: Any, world: World, where: str) -> Client:
    entry = Client(
        client_id=str(_require(client, "client_id", where)),
        client_secret=str(_require(client, "client_secret", where)),
        service=str(_require(client, "service", where)),
    )
    if entry.service not in world.services:
        raise SeedError(f"{where}: unknown service {entry.service!r}")
    for code in client.get("codes") or []:
        redirect_uri = code.get("redirect_uri")
        entry.codes[str(_require(code, "code", where))] = {
            "user": str(_require(code, "user", where)),
            "scopes": list(code.get("scopes") or []),
            "redirect_uri": None if redirect_uri is None else str(redirect_uri),
        }
    return entry


def _token_from_seed(token: Any, username: str, world: World, now: datetime.datetime, where: str) -> Token:
    kind = token.get("kind", "oauth2") if isinstance(token, dict) else None
    if kind not in ("oauth2", "simple"):
        raise SeedError(f"{where}: kind must be oauth2 or simple")
    entry = Token(
        token=str(_require(token, "token", where)),
        user=username,
        service=token.get("service"),
        scopes=[str(s) for s in token.get("scopes") or []],
        refresh_token=token.get("refresh_token"),
        kind=kind,
        expires_at=_expires_at(token, now, where),
        access_revoked=token.get("access_revoked", False),
    )
    if not isinstance(entry.access_revoked, bool):
        raise SeedError(f"{where}: access_revoked must be true or false")
    if entry.service is not None and entry.service not in world.services:
        raise SeedError(f"{where}: unknown service {entry.service!r}")
    if entry.token in world.tokens:
        raise SeedError(f"{where}: duplicate token")
    return entry


# The three lists of what Exist computes, per user (seed keys and User fields).
COMPUTED_LISTS = ("averages", "correlations", "insights")
AVERAGE_NUMBERS = ("overall", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Every key of a correlation object, in the API's order.
CORRELATION_KEYS = (
    "date",
    "period",
    "offset",
    "attribute",
    "attribute2",
    "value",
    "p",
    "percentage",
    "stars",
    "second_person",
    "second_person_elements",
    "attribute_category",
    "strength_description",
    "stars_description",
    "description",
    "occurrence",
    "rating",
)
INSIGHT_KEYS = ("created", "target_date", "type", "html", "text")
INSIGHT_PRIORITIES = (1, 2, 3, 4)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _record(data: Any, keys: tuple[str, ...], required: tuple[str, ...], where: str) -> dict:
    """A record with exactly the API object's keys, in its order: an unknown key is refused (a typo would otherwise
    be served), the required ones must be there, the others default to null."""
    if not isinstance(data, dict):
        raise SeedError(f"{where}: must be a mapping")
    unknown = sorted(str(key) for key in data if key not in keys)
    if unknown:
        raise SeedError(f"{where}: unknown key(s) {', '.join(unknown)}")
    for key in required:
        _require(data, key, where)
    return {key: data.get(key) for key in keys}


def _named(record: dict, key: str, user: User, where: str) -> str:
    """The attribute name under `key`; it must resolve to a group (the user's attribute, or a template)."""
    name = record[key]
    if not isinstance(name, str) or not name:
        raise SeedError(f"{where}: {key} must be an attribute name")
    if user.group_of(name) is None:
        raise SeedError(f"{where}: {key} {name!r} is neither one of the user's attributes nor a template")
    return name


def _json_only(record: dict, where: str) -> None:
    """Whatever the seed put in the free-form keys must be JSON (a YAML date there would break every answer)."""
    try:
        json.dumps(record, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SeedError(f"{where}: not JSON data ({exc})") from exc


def _average_from_seed(data: Any, user: User, where: str) -> dict:
    record = _record(data, ("attribute", "date", *AVERAGE_NUMBERS), ("attribute", "date"), where)
    _named(record, "attribute", user, where)
    record["date"] = _date_key(record["date"], where)
    for key in AVERAGE_NUMBERS:
        if record[key] is not None and not _is_number(record[key]):
            raise SeedError(f"{where}: {key} must be a number or null")
    _json_only(record, where)
    return record


def _correlation_from_seed(data: Any, user: User, where: str) -> dict:
    record = _record(data, CORRELATION_KEYS, ("date", "attribute", "attribute2", "value", "stars"), where)
    if _named(record, "attribute", user, where) == _named(record, "attribute2", user, where):
        raise SeedError(f"{where}: attribute and attribute2 must differ")
    record["date"] = _date_key(record["date"], where)
    if not _is_number(record["value"]) or not -1 <= record["value"] <= 1:
        raise SeedError(f"{where}: value must be a number from -1 to 1")
    if not _is_int(record["stars"]) or not 0 <= record["stars"] <= 5:
        raise SeedError(f"{where}: stars must be an integer from 0 to 5")
    for key in ("period", "offset"):
        if record[key] is not None and not _is_int(record[key]):
            raise SeedError(f"{where}: {key} must be an integer or null")
    for key in ("p", "percentage"):
        if record[key] is not None and not _is_number(record[key]):
            raise SeedError(f"{where}: {key} must be a number or null")
    elements = record["second_person_elements"]
    if elements is not None and not (isinstance(elements, list) and all(isinstance(e, str) for e in elements)):
        raise SeedError(f"{where}: second_person_elements must be a list of strings or null")
    _json_only(record, where)
    return record


def _insight_type(data: Any, user: User, where: str) -> dict:
    if not isinstance(data, dict):
        raise SeedError(f"{where}: type must be a mapping")
    kind = dict(data)
    if not isinstance(kind.get("name"), str) or not kind["name"]:
        raise SeedError(f"{where}: type.name must be a non-empty string")
    if not _is_int(kind.get("priority")) or kind["priority"] not in INSIGHT_PRIORITIES:
        raise SeedError(f"{where}: type.priority must be 1, 2, 3 or 4")
    # An insight about no attribute in particular has a null type.attribute (then every token sees it).
    kind.setdefault("attribute", None)
    if kind["attribute"] is not None:
        if not isinstance(kind["attribute"], dict):
            raise SeedError(f"{where}: type.attribute must be a mapping or null")
        _named(kind["attribute"], "name", user, f"{where}: type.attribute")
    return kind


def _insight_from_seed(data: Any, user: User, where: str) -> dict:
    record = _record(data, INSIGHT_KEYS, ("created", "target_date", "type"), where)
    if isinstance(record["created"], datetime.datetime):
        # YAML turns an unquoted timestamp into a datetime.
        record["created"] = record["created"].isoformat()
    try:
        parse_moment(record["created"])
    except (ValueError, OverflowError) as exc:
        raise SeedError(f"{where}: created {record['created']!r} is not an ISO 8601 date and time") from exc
    record["target_date"] = _date_key(record["target_date"], where)
    record["type"] = _insight_type(record["type"], user, where)
    for key in ("html", "text"):
        if record[key] is not None and not isinstance(record[key], str):
            raise SeedError(f"{where}: {key} must be a string or null")
    _json_only(record, where)
    return record


def _unique(records: list[dict], identity: Callable[[dict], Any], where: str, what: str) -> None:
    seen: set = set()
    for index, record in enumerate(records):
        key = identity(record)
        if key in seen:
            raise SeedError(f"{where}[{index}]: {what}")
        seen.add(key)


def _computed_from_seed(data: dict, user: User, where: str) -> None:
    """The user's averages, correlations and insights (after the attributes: names resolve against them)."""
    parsers = {
        "averages": _average_from_seed,
        "correlations": _correlation_from_seed,
        "insights": _insight_from_seed,
    }
    for key in COMPUTED_LISTS:
        items = data.get(key) or []
        if not isinstance(items, list):
            raise SeedError(f"{where}.{key}: must be a list")
        setattr(user, key, [parsers[key](item, user, f"{where}.{key}[{index}]") for index, item in enumerate(items)])
    _unique(
        user.averages,
        lambda r: (r["attribute"], r["date"]),
        f"{where}.averages",
        "a second average of the same attribute and date",
    )
    # The combination endpoint answers the one correlation of a pair, whichever way round it is named.
    _unique(
        user.correlations,
        lambda r: frozenset((r["attribute"], r["attribute2"])),
        f"{where}.correlations",
        "a second correlation of the same two attributes (in either order)",
    )


def _user_from_seed(data: Any, world: World, now: datetime.datetime, where: str) -> User:
    """One seeded user, with its attributes; its tokens go into the world as they are read."""
    user = User(
        username=str(_require(data, "username", where)),
        timezone=str(data.get("timezone") or "UTC"),
        first_name=str(data.get("first_name") or ""),
        last_name=str(data.get("last_name") or ""),
    )
    if user.username in world.users:
        raise SeedError(f"{where}: duplicate user {user.username!r}")
    try:
        zoneinfo.ZoneInfo(user.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise SeedError(f"{where}: unknown timezone {user.timezone!r}") from exc
    for tindex, token in enumerate(data.get("tokens") or []):
        world.add_token(_token_from_seed(token, user.username, world, now, f"{where}.tokens[{tindex}]"))
    for aindex, attribute_data in enumerate(data.get("attributes") or []):
        attribute = _attribute_from_seed(attribute_data, world, f"{where}.attributes[{aindex}]")
        if attribute.name in user.attributes:
            raise SeedError(f"{where}.attributes[{aindex}]: duplicate attribute {attribute.name!r}")
        user.attributes[attribute.name] = attribute
    _computed_from_seed(data, user, where)
    return user


def world_from_seed(seed: Any, now: datetime.datetime | None = None) -> World:
    """Build a world from a parsed seed document; raises SeedError when it is malformed.

    `now` (aware, default the real time) is what a token's `expires_in_days` counts from.
    """
    now = utc_now() if now is None else now
    if seed is None:
        seed = {}
    if not isinstance(seed, dict):
        raise SeedError("the seed must be a mapping")
    world = World()
    for index, service in enumerate(seed.get("services") or []):
        name = _require(service, "name", f"services[{index}]")
        world.services[str(name)] = str(service.get("label") or name)
    for index, client in enumerate(seed.get("clients") or []):
        entry = _client_from_seed(client, world, f"clients[{index}]")
        world.clients[entry.client_id] = entry
    for index, data in enumerate(seed.get("users") or []):
        user = _user_from_seed(data, world, now, f"users[{index}]")
        world.users[user.username] = user
    # Last: a code may name any seeded user.
    for client in world.clients.values():
        for code, data in client.codes.items():
            if data["user"] not in world.users:
                raise SeedError(f"code {code!r}: unknown user {data['user']!r}")
    return world


def parse_seed_text(text: str) -> Any:
    """Parse a seed given as JSON or YAML text."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SeedError(f"the seed is neither JSON nor YAML: {exc}") from exc


def default_seed() -> Any:
    """The default demo world as a parsed seed document."""
    text = resources.files("exist_emulator").joinpath("data/default-world.yml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def load_seed_file(path: str) -> Any:
    """Read a seed file (YAML or JSON)."""
    with open(path, encoding="utf-8") as handle:
        return parse_seed_text(handle.read())
