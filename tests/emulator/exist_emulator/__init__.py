"""A local emulator of the Exist (exist.io) API v2, for tests and offline demos."""

from __future__ import annotations

from .admin import Admin, AdminError
from .server import Emulator, EmulatorServer, is_loopback, make_server
from .world import SeedError, World, default_seed, world_from_seed

__all__ = [
    "Admin",
    "AdminError",
    "Emulator",
    "EmulatorServer",
    "SeedError",
    "World",
    "default_seed",
    "is_loopback",
    "make_server",
    "world_from_seed",
]
__version__ = "0.1.0"
