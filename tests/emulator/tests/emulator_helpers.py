"""Helpers shared by the emulator tests: an HTTP client of the API and a seed builder."""

from __future__ import annotations

import requests

from exist_emulator.admin import Admin


class Exist:
    """A small HTTP client for the emulator's API; `admin` is the emulator's admin client."""

    def __init__(self, base: str, admin: Admin) -> None:
        self.base = base
        self.admin = admin
        self.http = requests.Session()

    def get(self, path: str, token: str | None = "demo-token", params: dict | None = None, scheme: str = "Bearer"):
        """GET an API path (relative to /api/2/ unless absolute)."""
        return self.http.get(self.url(path), params=params, headers=self._auth(token, scheme), timeout=10)

    def post(
        self, path: str, body, token: str | None = "demo-token", params: dict | None = None, scheme: str = "Bearer"
    ):
        """POST a JSON body to an API path."""
        return self.http.post(self.url(path), json=body, params=params, headers=self._auth(token, scheme), timeout=10)

    def url(self, path: str) -> str:
        """The absolute URL of a path."""
        if path.startswith("http"):
            return path
        return self.base + (path if path.startswith("/") else "/api/2/" + path)

    @staticmethod
    def _auth(token: str | None, scheme: str) -> dict:
        return {"Authorization": f"{scheme} {token}"} if token else {}

    def attribute(self, name: str, user: str = "demo") -> dict | None:
        """One attribute of the state, as a seed entry."""
        for entry in self.admin.state()["users"]:
            if entry["username"] == user:
                for attribute in entry["attributes"]:
                    if attribute.get("name", attribute.get("template")) == name:
                        return attribute
        return None

    def owned_names(self, token: str = "demo-token") -> list[str]:
        """Names of the attributes a token's service owns."""
        return [a["name"] for a in self.get("attributes/owned/", token, {"limit": 100}).json()["results"]]


def seed_with(attributes: list[dict], scopes: list[str] | None = None, extra_tokens: list[dict] | None = None) -> dict:
    """A minimal seed: user demo, token demo-token for demo_service with the given scopes and attributes."""
    tokens = [
        {
            "token": "demo-token",
            "service": "demo_service",
            "scopes": scopes or ["all"],
            "refresh_token": "demo-refresh",
            "kind": "oauth2",
        }
    ]
    return {
        "services": [
            {"name": "demo_service", "label": "Demo Service"},
            {"name": "withings", "label": "Withings"},
            {"name": "fitbit", "label": "Fitbit"},
            {"name": "exist_ios", "label": "Exist for iOS"},
        ],
        "clients": [
            {
                "client_id": "demo-client",
                "client_secret": "demo-secret",
                "service": "demo_service",
                "codes": [{"code": "demo-code", "user": "demo", "scopes": ["mood_read", "mood_write"]}],
            }
        ],
        "users": [
            {
                "username": "demo",
                "timezone": "Europe/London",
                "tokens": tokens + (extra_tokens or []),
                "attributes": attributes,
            }
        ],
    }
