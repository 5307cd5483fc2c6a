"""A throw-away test CA and a server certificate for 127.0.0.1 and localhost, made with the openssl command.

    python -m exist_emulator.tls DIRECTORY    # writes ca.pem, server.pem, server-key.pem; prints their paths

The openssl command line tool does the work (through subprocess), so the emulator needs no Python package beyond
PyYAML. The CA's own key only lives in a temporary directory while it signs the server certificate and is then
deleted: the CA can vouch for nothing else. Keys are EC P-256; both certificates are valid for VALIDITY_DAYS days.
Never trust ca.pem outside tests.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from typing import Sequence

VALIDITY_DAYS = 3
SERVER_NAMES = "IP:127.0.0.1, DNS:localhost"

_CONFIG = f"""\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = exist-emulator test CA
[v3_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = {SERVER_NAMES}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


def _openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        raise RuntimeError("the openssl command line tool is needed to make a test CA, and it is not on PATH")
    return path


def _run(*args: str) -> None:
    try:
        subprocess.run(args, check=True, capture_output=True, text=True, timeout=60)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"{' '.join(args[:2])} failed (exit {exc.returncode}): {exc.stderr.strip()}") from exc


def _key(openssl: str, path: str) -> None:
    _run(
        openssl,
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-pkeyopt",
        "ec_param_enc:named_curve",
        "-out",
        path,
    )
    os.chmod(path, 0o600)


def make_test_ca(directory: str | os.PathLike) -> dict[str, str]:
    """Make a self-signed test CA and a server certificate it signs for 127.0.0.1 and localhost.

    Writes ca.pem (the CA certificate: what clients verify against), server.pem (the server certificate) and
    server-key.pem (its key, mode 0600) into directory, which is created if needed, and answers
    {"ca": path, "cert": path, "key": path}. Raises RuntimeError when openssl is missing or fails.
    """
    openssl = _openssl()
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    paths = {
        "ca": os.path.join(directory, "ca.pem"),
        "cert": os.path.join(directory, "server.pem"),
        "key": os.path.join(directory, "server-key.pem"),
    }
    with tempfile.TemporaryDirectory(prefix="exist-emulator-ca-") as work:
        config = os.path.join(work, "openssl.cnf")
        with open(config, "w", encoding="utf-8") as handle:
            handle.write(_CONFIG)
        ca_key = os.path.join(work, "ca-key.pem")
        csr = os.path.join(work, "server.csr")
        _key(openssl, ca_key)
        _run(
            openssl,
            "req",
            "-config",
            config,
            "-new",
            "-x509",
            "-key",
            ca_key,
            "-sha256",
            "-days",
            str(VALIDITY_DAYS),
            "-extensions",
            "v3_ca",
            "-set_serial",
            str(secrets.randbits(63)),
            "-out",
            paths["ca"],
        )
        _key(openssl, paths["key"])
        _run(openssl, "req", "-config", config, "-new", "-key", paths["key"], "-subj", "/CN=localhost", "-out", csr)
        _run(
            openssl,
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            paths["ca"],
            "-CAkey",
            ca_key,
            "-set_serial",
            str(secrets.randbits(63)),
            "-sha256",
            "-days",
            str(VALIDITY_DAYS),
            "-extfile",
            config,
            "-extensions",
            "v3_server",
            "-out",
            paths["cert"],
        )
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """python -m exist_emulator.tls DIRECTORY: make the files and print their paths, one a line (ca, cert, key)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m exist_emulator.tls DIRECTORY", file=sys.stderr)
        return 2
    try:
        paths = make_test_ca(args[0])
    except (OSError, RuntimeError) as exc:
        print(f"exist_emulator.tls: {exc}", file=sys.stderr)
        return 1
    for name in ("ca", "cert", "key"):
        print(paths[name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
