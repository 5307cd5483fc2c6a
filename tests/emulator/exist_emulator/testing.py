"""The emulator inside a Python test: in a background thread, or with no socket at all.

- `BackgroundEmulator`: the one way to run the emulator in a thread of the calling process. It serves on a free
  loopback port (`make_server(port=0)`), exposes `.url` and `.admin` (an `Admin`), and stops cleanly
  (`stop()`, or the end of a `with` block).
- `InProcessAdapter`: a requests transport adapter that hands each request to `Emulator.handle` in process, for
  tests that need no sockets (and no threads): mount it on a `requests.Session`.

A separate process is the command line's job (`exist-emulator`, `python -m exist_emulator`).
"""

from __future__ import annotations

import io
import json
import os
import threading
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .admin import Admin
from .server import Emulator, EmulatorServer, make_server
from .world import World, load_seed_file, world_from_seed

try:
    from requests.adapters import BaseAdapter
    from requests.models import Response
except ImportError:  # the package itself needs only PyYAML; only InProcessAdapter needs requests
    BaseAdapter = object
    Response = None


class BackgroundEmulator:
    """An emulator serving in a background (daemon) thread on a free loopback port.

        with BackgroundEmulator(seed=my_seed) as emulator:
            requests.get(emulator.url + "/api/2/attributes/owned/", headers=...)
            emulator.admin.requests()

    `world` (a World) or `seed` (a seed dict, or the path of a YAML or JSON seed file): the world to start with
    (default: the demo world). `rate_limit` is off (0) unless given: tests count requests, not quotas.
    `tls_cert` and `tls_key` (PEM files, both or neither) serve HTTPS; `ca_file` is the CA `.admin` trusts then.
    `admin_timeout` bounds every admin call. `.server` is the EmulatorServer, `.emulator` its Emulator.
    """

    def __init__(
        self,
        world: World | None = None,
        seed: Any = None,
        rate_limit: int = 0,
        *,
        host: str = "127.0.0.1",
        tls_cert: str | None = None,
        tls_key: str | None = None,
        ca_file: str | None = None,
        verbose: bool = False,
        admin_timeout: float = 30.0,
    ) -> None:
        if world is not None and seed is not None:
            raise ValueError("give world or seed, not both")
        if seed is not None:
            world = world_from_seed(load_seed_file(os.fspath(seed)) if isinstance(seed, (str, os.PathLike)) else seed)
        self._options = {
            "host": host,
            "world": world,
            "rate_limit": rate_limit,
            "verbose": verbose,
            "tls_cert": tls_cert,
            "tls_key": tls_key,
        }
        self._ca_file = ca_file
        self._admin_timeout = admin_timeout
        self.server: EmulatorServer | None = None
        self.admin: Admin | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL (http://127.0.0.1:PORT, or https://)."""
        if self.server is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return self.server.url

    @property
    def emulator(self) -> Emulator:
        """The world and its request log, faults and rate counters, as the server holds them."""
        if self.server is None:
            raise RuntimeError("the emulator is not running: call start() first")
        return self.server.emulator

    def start(self) -> BackgroundEmulator:
        """Bind a free port and serve in a daemon thread; returns self. Binding errors raise here."""
        if self.server is not None:
            raise RuntimeError("the emulator is already running")
        self.server = make_server(port=0, **self._options)
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, name="exist-emulator", daemon=True
        )
        self._thread.start()
        self.admin = Admin(self.server.url, timeout=self._admin_timeout, cafile=self._ca_file)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (waits at most 5 seconds for the thread); a no-op when stopped."""
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self.server = self._thread = None

    def __enter__(self) -> BackgroundEmulator:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


class InProcessAdapter(BaseAdapter):  # type: ignore[misc,valid-type]
    """A requests transport that hands each request to an Emulator's `handle`, in this thread; no socket.

        emulator = Emulator(world_from_seed(seed), rate_limit=0)
        adapter = InProcessAdapter(emulator)
        session.mount("http://", adapter)

    Faults and the request log are the HTTP server's business and do not apply. `writes` counts the requests that
    were not GETs.
    """

    def __init__(self, emulator: Emulator) -> None:
        if Response is None:
            raise ImportError("InProcessAdapter needs requests")
        super().__init__()
        self.emulator = emulator
        self.writes = 0

    def send(self, request: Any, **kwargs: Any) -> Any:  # pylint: disable=unused-argument
        """Answer one prepared request."""
        parts = urlsplit(request.url)
        if request.method != "GET":
            self.writes += 1
        answer = self.emulator.handle(
            request.method, parts.path, dict(parse_qsl(parts.query)), request.headers, request.body or b"", parts.netloc
        )
        response = Response()
        response.status_code = answer.status
        response.headers.update(answer.headers)
        response.raw = io.BytesIO(json.dumps(answer.payload).encode("utf-8"))
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to close."""
