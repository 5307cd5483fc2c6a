"""Command line: exist-emulator [--host H] [--port P] [--seed FILE | --fleet N[,ATTRIBUTES]
[--fleet-expiring DAYS] [--write-fleet-store PATH]] [--rate-limit N] [--verbose] [--tls-cert FILE --tls-key FILE]
[--chaos RATE [--chaos-seed N] [--chaos-kinds KIND[=WEIGHT],...] [--chaos-retry-after S] [--chaos-delay S]
[--chaos-trickle S] [--chaos-paths PREFIX,...]]."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Sequence

from .chaos import validate_chaos
from .fleet import TEMPLATE_POOL, fleet_seed, fleet_store, write_store
from .server import make_server, tls_context
from .world import SeedError, load_seed_file, world_from_seed


def _fleet_size(text: str) -> tuple[int, int]:
    """N or N,ATTRIBUTES (default 20 attributes)."""
    users, dummy, attributes = text.partition(",")
    try:
        size = (int(users), int(attributes) if attributes else 20)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or N,ATTRIBUTES (integers), got {text!r}") from None
    if size[0] < 1 or not 0 <= size[1] <= len(TEMPLATE_POOL):
        raise argparse.ArgumentTypeError(f"N must be at least 1 and ATTRIBUTES from 0 to {len(TEMPLATE_POOL)}")
    return size


def _chaos_kinds(text: str) -> dict[str, float]:
    """KIND[=WEIGHT],... (weight 1 when not given)."""
    kinds = {}
    for part in text.split(","):
        name, dummy, weight = part.strip().partition("=")
        try:
            kinds[name.strip()] = float(weight) if weight else 1.0
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected KIND or KIND=WEIGHT, got {part!r}") from None
    return kinds


def _chaos_config(args: argparse.Namespace) -> dict | None:
    """The chaos configuration the flags give (validated), or None without --chaos."""
    if args.chaos is None:
        return None
    config: dict = {"rate": args.chaos}
    for key in ("seed", "kinds", "retry_after", "delay", "trickle"):
        value = getattr(args, "chaos_" + key)
        if value is not None:
            config[key] = value
    if args.chaos_paths is not None:
        config["paths"] = [path for path in args.chaos_paths.split(",") if path]
    return validate_chaos(config)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(prog="exist-emulator", description="A local emulator of the Exist API v2.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, help="port to listen on; 0 picks a free one (default 8787)")
    parser.add_argument("--seed", help="YAML or JSON seed file describing the world (default: the demo world)")
    parser.add_argument(
        "--fleet",
        metavar="N[,ATTRIBUTES]",
        type=_fleet_size,
        help="serve a fleet instead: N users (user0001...) of fleet_service with ATTRIBUTES attributes each "
        "(default 20); client fleet-client / fleet-secret",
    )
    parser.add_argument(
        "--fleet-expiring",
        metavar="DAYS",
        type=float,
        help="with --fleet: every tenth user's token expires within DAYS days",
    )
    parser.add_argument(
        "--write-fleet-store",
        metavar="PATH",
        help="with --fleet: write the fleet's token store (YAML, mode 0600) to PATH before serving",
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        default=300,
        help="requests per token in a rolling hour; 0 turns rate limiting off (default 300)",
    )
    parser.add_argument("--verbose", action="store_true", help="log each request line to stderr")
    parser.add_argument(
        "--tls-cert", metavar="FILE", help="serve HTTPS with this PEM certificate (chain); needs --tls-key"
    )
    parser.add_argument("--tls-key", metavar="FILE", help="the PEM private key of --tls-cert; needs --tls-cert")
    chaos = parser.add_argument_group("chaos mode (seeded random faults; see the README)")
    chaos.add_argument("--chaos", metavar="RATE", type=float, help="fault this share (0-1) of the API requests")
    chaos.add_argument("--chaos-seed", metavar="N", type=int, help="the seed of the draws (default 0)")
    chaos.add_argument(
        "--chaos-kinds",
        metavar="KIND[=WEIGHT],...",
        type=_chaos_kinds,
        help="the kinds of fault and their weights (default: every kind, weight 1)",
    )
    chaos.add_argument("--chaos-retry-after", metavar="S", type=int, help="Retry-After of a 429_retry_after (1)")
    chaos.add_argument("--chaos-delay", metavar="S", type=float, help="seconds a delay holds a request (35)")
    chaos.add_argument("--chaos-trickle", metavar="S", type=float, help="seconds a trickled answer takes (60)")
    chaos.add_argument("--chaos-paths", metavar="PREFIX,...", help="only requests under these path prefixes")
    args = parser.parse_args(argv)
    chaos_flags = ("chaos_seed", "chaos_kinds", "chaos_retry_after", "chaos_delay", "chaos_trickle", "chaos_paths")
    if args.chaos is None and any(getattr(args, flag) is not None for flag in chaos_flags):
        parser.error("the --chaos-* flags need --chaos RATE")
    try:
        args.chaos_config = _chaos_config(args)
    except ValueError as exc:
        parser.error(f"chaos: {exc}")
    if args.fleet is not None and args.seed is not None:
        parser.error("--fleet and --seed are mutually exclusive")
    if args.fleet is None and (args.write_fleet_store is not None or args.fleet_expiring is not None):
        parser.error("--write-fleet-store and --fleet-expiring need --fleet")
    if args.fleet_expiring is not None and args.fleet_expiring <= 0:
        parser.error("--fleet-expiring must be a positive number of days")
    if args.tls_cert is not None and args.tls_key is None:
        parser.error("--tls-cert needs --tls-key (give both, or neither for plain HTTP)")
    if args.tls_key is not None and args.tls_cert is None:
        parser.error("--tls-key needs --tls-cert (give both, or neither for plain HTTP)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until SIGINT or SIGTERM."""
    args = parse_args(argv)
    world = None
    if args.seed:
        try:
            world = world_from_seed(load_seed_file(args.seed))
        except (OSError, SeedError) as exc:
            print(f"exist-emulator: cannot load seed {args.seed}: {exc}", file=sys.stderr)
            return 2
    if args.fleet is not None:
        users, attributes = args.fleet
        seed = fleet_seed(users, attributes, expires_within_days=args.fleet_expiring)
        world = world_from_seed(seed)
        if args.write_fleet_store is not None:
            try:
                write_store(fleet_store(seed), args.write_fleet_store)
            except OSError as exc:
                print(f"exist-emulator: cannot write the fleet store {args.write_fleet_store}: {exc}", file=sys.stderr)
                return 2
    if args.tls_cert is not None:
        try:
            tls_context(args.tls_cert, args.tls_key)  # only to report an unusable pair before binding
        except OSError as exc:  # a missing or unreadable file, or ssl.SSLError (not PEM, key does not match)
            print(
                f"exist-emulator: cannot load TLS certificate {args.tls_cert} with key {args.tls_key}: {exc}",
                file=sys.stderr,
            )
            return 2
    server = make_server(
        args.host, args.port, world, args.rate_limit, args.verbose, tls_cert=args.tls_cert, tls_key=args.tls_key
    )
    if args.chaos_config is not None:
        server.emulator.set_chaos(args.chaos_config)
    stop = threading.Event()
    # serve_forever runs in a thread so that the main thread can wait for a signal and shut it down cleanly.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="exist-emulator", daemon=True
    )
    thread.start()
    print(f"exist-emulator listening on {server.url}", flush=True)
    while not stop.wait(0.2):
        pass
    server.shutdown()
    server.server_close()
    thread.join(5)
    return 0
