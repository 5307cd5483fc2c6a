# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""write_atomically: the file replaced whole, with the mode asked for, and no temporary file left behind."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.existio.exist.plugins.plugin_utils._atomic_file import write_atomically


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize('mode', [0o600, 0o644])
def test_the_file_is_replaced_whole_with_the_mode_asked_for_whatever_the_umask(tmp_path, mode):
    path = str(tmp_path / 'report.json')
    with open(path, 'wb') as handle:
        handle.write(b'a much longer old content that must not survive in part\n')
    os.chmod(path, 0o666)
    previous = os.umask(0o077)
    try:
        assert write_atomically(path, b'new\n', mode) == path
    finally:
        os.umask(previous)
    with open(path, 'rb') as handle:
        assert handle.read() == b'new\n'
    assert mode_of(path) == mode
    assert os.listdir(str(tmp_path)) == ['report.json']


def test_a_new_file_is_created(tmp_path):
    path = str(tmp_path / 'tokens.yml')
    write_atomically(path, b'x: 1\n', 0o600)
    with open(path, 'rb') as handle:
        assert handle.read() == b'x: 1\n'
    assert mode_of(path) == 0o600


def test_a_symbolic_link_given_as_the_path_is_replaced_by_a_file(tmp_path):
    # The path is replaced as given: a caller that writes through a link passes what it points to.
    target = tmp_path / 'target.yml'
    target.write_bytes(b'old\n')
    link = tmp_path / 'link.yml'
    link.symlink_to(target)
    write_atomically(str(link), b'new\n', 0o600)
    assert not link.is_symlink() and link.read_bytes() == b'new\n'
    assert target.read_bytes() == b'old\n'


def test_a_failed_rename_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    path = str(tmp_path / 'report.md')
    with open(path, 'wb') as handle:
        handle.write(b'old\n')

    def refuse(source, target):
        assert os.path.dirname(source) == str(tmp_path) and os.path.basename(source).startswith('.report.md.')
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(os, 'rename', refuse)
    with pytest.raises(OSError, match='No space left on device'):
        write_atomically(path, b'new\n', 0o644)
    monkeypatch.undo()
    with open(path, 'rb') as handle:
        assert handle.read() == b'old\n'
    assert os.listdir(str(tmp_path)) == ['report.md']


def test_an_interrupted_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = str(tmp_path / 'report.md')

    def interrupt(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, 'fsync', interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, b'new\n', 0o644)
    monkeypatch.undo()
    assert os.listdir(str(tmp_path)) == []


def test_a_directory_that_does_not_exist_is_an_os_error(tmp_path):
    with pytest.raises(OSError):
        write_atomically(str(tmp_path / 'missing' / 'report.md'), b'new\n', 0o644)
    assert os.listdir(str(tmp_path)) == []
