"""HTTPS: make_server(tls_cert=, tls_key=), exist-emulator --tls-cert/--tls-key, and the exist_emulator.tls test CA."""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import stat
import subprocess
import sys

import pytest
import requests
from emulator_helpers import Exist

from exist_emulator import make_server, tls
from exist_emulator.testing import BackgroundEmulator

EMULATOR_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUTH = {"Authorization": "Bearer demo-token"}


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    """A test CA and a server certificate for 127.0.0.1 and localhost, made once for this module."""
    return tls.make_test_ca(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_server(ca):  # pylint: disable=redefined-outer-name
    """An HTTPS emulator on a free port, serving in a background thread; its admin client trusts the test CA."""
    with BackgroundEmulator(tls_cert=ca["cert"], tls_key=ca["key"], ca_file=ca["ca"], admin_timeout=10) as running:
        yield running


@pytest.fixture
def secure(tls_server, ca):  # pylint: disable=redefined-outer-name
    """A client of the freshly reset HTTPS emulator that trusts the test CA."""
    client = Exist(tls_server.url, tls_server.admin)
    # Without trust_env, REQUESTS_CA_BUNDLE (if set) cannot override the session's verify.
    client.http.trust_env = False
    client.http.verify = ca["ca"]
    client.admin.reset()
    yield client
    client.http.close()


def _profile_ok(url: str, ca_file: str) -> bool:
    response = requests.get(url + "/api/2/accounts/profile/", headers=AUTH, verify=ca_file, timeout=10)
    return response.status_code == 200 and response.json()["username"] == "demo"


def _openssl_text(path: str) -> str:
    return subprocess.run(
        ["openssl", "x509", "-in", path, "-noout", "-text", "-dates"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout


def test_make_test_ca_writes_a_ca_and_a_server_certificate_it_signs(ca):  # pylint: disable=redefined-outer-name
    """ca.pem, server.pem, server-key.pem in the directory; the server certificate names 127.0.0.1 and localhost,
    is signed by the CA, lasts a few days; the key is private and the CA's key is not left behind."""
    directory = os.path.dirname(ca["ca"])
    assert {os.path.basename(ca[name]) for name in ("ca", "cert", "key")} == {"ca.pem", "server.pem", "server-key.pem"}
    assert sorted(os.listdir(directory)) == ["ca.pem", "server-key.pem", "server.pem"]
    assert stat.S_IMODE(os.stat(ca["key"]).st_mode) == 0o600
    verify = subprocess.run(
        ["openssl", "verify", "-x509_strict", "-CAfile", ca["ca"], ca["cert"]],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert verify.returncode == 0 and verify.stdout.strip().endswith(": OK"), verify.stdout + verify.stderr
    server_text = _openssl_text(ca["cert"])
    assert re.search(r"IP Address:127\.0\.0\.1, DNS:localhost", server_text), server_text
    assert "CA:FALSE" in server_text and "CA:TRUE" in _openssl_text(ca["ca"])
    start = ssl.cert_time_to_seconds(re.search(r"notBefore=(.+)", server_text).group(1))
    end = ssl.cert_time_to_seconds(re.search(r"notAfter=(.+)", server_text).group(1))
    assert 1 <= (end - start) / 86400 <= 7
    # The pair loads as a server identity (a key that did not match the certificate would raise here).
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(ca["cert"], ca["key"])


def test_make_test_ca_without_openssl_raises_runtime_error(tmp_path, monkeypatch):
    """No openssl on PATH: a clear RuntimeError naming it, and no file written."""
    monkeypatch.setattr(tls.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="openssl"):
        tls.make_test_ca(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_tls_module_command_prints_the_three_paths(tmp_path):
    """python -m exist_emulator.tls DIRECTORY makes the files and prints ca, cert and key paths, one a line."""
    env = dict(os.environ, PYTHONPATH=EMULATOR_DIR)
    target = tmp_path / "certs"
    result = subprocess.run(
        [sys.executable, "-m", "exist_emulator.tls", str(target)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        str(target / "ca.pem"),
        str(target / "server.pem"),
        str(target / "server-key.pem"),
    ]
    assert all(os.path.getsize(path) > 0 for path in result.stdout.splitlines())
    usage = subprocess.run(
        [sys.executable, "-m", "exist_emulator.tls"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert usage.returncode == 2 and "usage" in usage.stderr


def test_https_url_and_request_verified_with_the_test_ca(tls_server, ca):  # pylint: disable=redefined-outer-name
    """The server says https://; a client trusting ca.pem gets 200 by IP and by the name localhost."""
    assert re.fullmatch(r"https://127\.0\.0\.1:\d+", tls_server.url)
    assert _profile_ok(tls_server.url, ca["ca"])
    port = tls_server.server.server_address[1]
    assert _profile_ok(f"https://localhost:{port}", ca["ca"])


def test_system_bundle_refuses_the_test_ca_and_the_server_survives(tls_server, ca):  # pylint: disable=redefined-outer-name
    """verify=True (the system bundle) fails with SSLError; the aborted handshake leaves the server serving."""
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(tls_server.url + "/api/2/accounts/profile/", headers=AUTH, verify=True, timeout=10)
    assert _profile_ok(tls_server.url, ca["ca"])


def test_plain_http_to_the_tls_port_fails_and_the_server_survives(tls_server, ca):  # pylint: disable=redefined-outer-name
    """http:// to the TLS port gets no HTTP answer (a connection error); the next HTTPS request works."""
    plain = tls_server.url.replace("https://", "http://")
    for dummy in range(3):
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(plain + "/api/2/accounts/profile/", headers=AUTH, timeout=10)
    assert _profile_ok(tls_server.url, ca["ca"])


def test_garbage_and_silent_clients_do_not_block_the_server(tls_server, ca):  # pylint: disable=redefined-outer-name
    """Garbage bytes, a connection closed at once, and one that never says anything: others are still served."""
    address = tls_server.server.server_address[:2]
    with socket.create_connection(address, timeout=5) as garbage:
        garbage.sendall(b"\x16\x03\x01\x00\x05hello, not TLS at all\r\n\r\n")
    socket.create_connection(address, timeout=5).close()
    silent = socket.create_connection(address, timeout=5)
    try:
        # The silent client's handshake waits in its own thread; the accept loop goes on.
        response = requests.get(tls_server.url + "/api/2/accounts/profile/", headers=AUTH, verify=ca["ca"], timeout=3)
        assert response.status_code == 200
    finally:
        silent.close()
    assert _profile_ok(tls_server.url, ca["ca"])


def test_paging_urls_are_https(secure):
    """Absolute next/previous URLs use https:// when serving TLS, and following them works."""
    first = secure.get("attributes/templates/", params={"limit": 5}).json()
    assert first["next"] == f"{secure.base}/api/2/attributes/templates/?limit=5&page=2"
    assert first["next"].startswith("https://")
    second = secure.get(first["next"]).json()
    assert second["previous"].startswith("https://") and second["next"].startswith("https://")
    assert secure.get(second["previous"]).json()["results"] == first["results"]


def test_admin_api_writes_and_faults_over_tls(secure):
    """The admin API, writes and a drop fault work over TLS; a dropped connection leaves the server serving."""
    assert secure.post("attributes/acquire/", [{"name": "steps"}]).status_code == 200
    assert secure.attribute("steps")["service"] == "demo_service"
    secure.admin.faults({"path": "/api/2/accounts/", "drop": True})
    with pytest.raises(requests.exceptions.ConnectionError):
        secure.get("accounts/profile/")
    assert secure.get("accounts/profile/").status_code == 200
    assert [entry["status"] for entry in secure.admin.requests()] == [200, 0, 200]


def test_make_server_needs_both_tls_files(ca, tmp_path):  # pylint: disable=redefined-outer-name
    """tls_cert without tls_key (or the reverse) is a ValueError naming the missing one; a bad file is an OSError."""
    with pytest.raises(ValueError, match="tls_key is missing"):
        make_server("127.0.0.1", 0, tls_cert=ca["cert"])
    with pytest.raises(ValueError, match="tls_cert is missing"):
        make_server("127.0.0.1", 0, tls_key=ca["key"])
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate\n", encoding="utf-8")
    with pytest.raises(ssl.SSLError):
        make_server("127.0.0.1", 0, tls_cert=str(bogus), tls_key=ca["key"])
    plain = make_server("127.0.0.1", 0)
    try:
        assert plain.url.startswith("http://") and plain.ssl_context is None
    finally:
        plain.server_close()


def _cli(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=EMULATOR_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, "-m", "exist_emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_cli_serves_https_and_survives_a_failed_handshake(ca):  # pylint: disable=redefined-outer-name
    """--tls-cert/--tls-key: the first line names https://; failed handshakes are quiet; SIGTERM exits 0."""
    proc = _cli("--tls-cert", ca["cert"], "--tls-key", ca["key"])
    try:
        line = proc.stdout.readline().rstrip("\n")
        match = re.fullmatch(r"exist-emulator listening on (https://127\.0\.0\.1:(\d+))", line)
        assert match, line
        base = match.group(1)
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(base + "/api/2/accounts/profile/", headers=AUTH, verify=True, timeout=10)
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(base.replace("https://", "http://") + "/api/2/accounts/profile/", headers=AUTH, timeout=10)
        assert _profile_ok(base, ca["ca"])
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        stderr = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    assert stderr == ""


@pytest.mark.parametrize("given, missing", [("--tls-cert", "--tls-key"), ("--tls-key", "--tls-cert")])
def test_cli_needs_both_tls_flags(ca, given, missing):  # pylint: disable=redefined-outer-name
    """One TLS flag without the other exits 2, naming the missing flag."""
    proc = _cli(given, ca["cert"] if given == "--tls-cert" else ca["key"])
    stdout, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 2 and stdout == ""
    assert f"{given} needs {missing}" in stderr


def test_cli_unusable_tls_files_exit_2(ca, tmp_path):  # pylint: disable=redefined-outer-name
    """A missing certificate, or a key that is not the certificate's, exits 2 with a message."""
    for cert, key in ((str(tmp_path / "nope.pem"), ca["key"]), (ca["ca"], ca["key"])):
        proc = _cli("--tls-cert", cert, "--tls-key", key)
        stdout, stderr = proc.communicate(timeout=20)
        assert proc.returncode == 2 and stdout == ""
        assert "cannot load TLS certificate" in stderr
