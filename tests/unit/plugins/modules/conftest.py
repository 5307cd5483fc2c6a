# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
import requests
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super().__init__(result)
        self.result = result
        self.failed = failed


def _exit_json(self, **kwargs):
    raise ModuleExit(kwargs, failed=False)


def _fail_json(self, **kwargs):
    raise ModuleExit(kwargs, failed=True)


@pytest.fixture
def run_module(monkeypatch):
    """Run a module's main() with the given arguments; return (result, failed)."""
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', _fail_json)

    def run(main, args):
        with patch_module_args(args):
            with pytest.raises(ModuleExit) as excinfo:
                main()
        return excinfo.value.result, excinfo.value.failed

    return run


@pytest.fixture
def no_http(monkeypatch):
    """Fail the test if any HTTP request is made."""

    def refuse(*args, **kwargs):
        raise AssertionError('an HTTP request was made: %r' % (args,))

    monkeypatch.setattr(requests.Session, 'request', refuse)
