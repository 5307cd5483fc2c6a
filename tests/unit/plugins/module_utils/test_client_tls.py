# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""TLS for real: the emulator serves HTTPS with a CA made for this test run."""

from __future__ import annotations

import threading
import warnings

import pytest

from ansible_collections.existio.exist.plugins.module_utils._client import ExistClient
from ansible_collections.existio.exist.plugins.module_utils._errors import ExistApiError
from exist_emulator.server import make_server
from exist_emulator.tls import make_test_ca

TOKEN = 'demo-token'


@pytest.fixture(scope='module')
def tls(tmp_path_factory):
    files = make_test_ca(str(tmp_path_factory.mktemp('ca')))
    server = make_server(port=0, rate_limit=0, tls_cert=files['cert'], tls_key=files['key'])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.url, files['ca']
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def no_ca_variables(monkeypatch):
    # This machine (like many) sets REQUESTS_CA_BUNDLE; each test says what it wants.
    for name in ('REQUESTS_CA_BUNDLE', 'SSL_CERT_FILE', 'CURL_CA_BUNDLE'):
        monkeypatch.delenv(name, raising=False)


def client(url, **kwargs):
    warned, slept = [], []
    return ExistClient.connect(url, TOKEN, timeout=5, warn=warned.append, sleep=slept.append, **kwargs), warned, slept


def test_ca_path_verifies_the_test_ca(tls):
    url, ca = tls
    exist, warned, dummy = client(url, ca_path=ca)
    assert url.startswith('https://')
    assert exist.get('/api/2/accounts/profile/')['username'] == 'demo'
    # Pages follow https:// `next` links.
    assert len(list(exist.list_templates({'limit': 30}))) > 30
    assert warned == []


@pytest.mark.parametrize('variable', ['REQUESTS_CA_BUNDLE', 'SSL_CERT_FILE'])
def test_the_ca_variables_are_honoured(tls, monkeypatch, variable):
    url, ca = tls
    monkeypatch.setenv(variable, ca)
    exist, dummy, dummy = client(url)
    assert exist.get('/api/2/accounts/profile/')['username'] == 'demo'


def test_an_untrusted_certificate_fails_at_once_naming_host_and_cause(tls):
    url, dummy = tls
    exist, warned, slept = client(url)
    with pytest.raises(ExistApiError) as excinfo:
        exist.get('/api/2/accounts/profile/')
    host = url.split('//', 1)[1]
    assert excinfo.value.message.startswith('GET /api/2/accounts/profile/: TLS failure talking to %s: ' % host)
    assert 'CERTIFICATE_VERIFY_FAILED' in excinfo.value.message
    assert slept == [] and warned == [] and exist.requests_sent == 1
    assert not excinfo.value.may_be_applied


def test_validate_certs_false_warns_once_and_nothing_on_stderr(tls):
    url, dummy = tls
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        exist, warned, dummy = client(url, validate_certs=False)
        exist.get('/api/2/accounts/profile/')
        list(exist.list_owned())
    assert [w for w in caught if 'Unverified HTTPS request' in str(w.message)] == []
    assert len(warned) == 1 and 'validate_certs=false' in warned[0]


def test_ca_path_wins_over_a_wrong_variable(tls, monkeypatch, tmp_path):
    url, ca = tls
    other = make_test_ca(str(tmp_path))['ca']
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', other)
    exist, dummy, dummy = client(url)
    with pytest.raises(ExistApiError, match='TLS failure'):
        exist.get('/api/2/accounts/profile/')
    exist, dummy, dummy = client(url, ca_path=ca)
    assert exist.get('/api/2/accounts/profile/')['username'] == 'demo'
