# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet report's file names, its latest links and which old reports go."""

from __future__ import annotations

import os

import pytest

from ansible_collections.existio.exist.plugins.plugin_utils import _fleet_files as files

# 2026-12-07 18:45:00 UTC
MOMENT = 1796669100.0


@pytest.mark.parametrize(
    'playbook, part',
    [
        ('/srv/fleet/converge.yml', 'converge'),
        ('refresh.yaml', 'refresh'),
        ('daily drift/check (v2).yml', 'check-v2'),
        ('site.main.yml', 'site.main'),
        (None, 'playbook'),
        ('', 'playbook'),
        ('../...yml', 'playbook'),
    ],
)
def test_the_playbook_part_is_a_safe_file_name_part(playbook, part):
    assert files.playbook_part(playbook) == part


def test_a_report_is_named_by_playbook_and_utc_time_as_junit_does():
    assert files.report_stem('/srv/fleet/converge.yml', MOMENT) == 'exist-fleet-report-converge-20261207T184500Z'


def test_a_name_taken_within_the_second_gets_a_counter():
    stem = 'exist-fleet-report-converge-20261207T184500Z'
    assert files.unique_stem(stem, set()) == stem
    assert files.unique_stem(stem, {stem + '.md'}) == stem + '-2'
    assert files.unique_stem(stem, {stem + '.json', stem + '-2.json', stem + '-3.md'}) == stem + '-4'
    # A name of another playbook, or of the latest links, takes nothing.
    assert (
        files.unique_stem(stem, {'exist-fleet-report-latest.json', 'exist-fleet-report-refresh-20261207T184500Z.json'})
        == stem
    )


def _report(playbook, when, counter=None):
    stem = 'exist-fleet-report-%s-%s' % (playbook, when) + ('-%d' % counter if counter else '')
    return [stem + '.json', stem + '.md']


def test_the_oldest_reports_beyond_keep_go_oldest_first_whatever_the_playbook():
    names = (
        _report('converge', '20261201T060000Z')
        + _report('refresh', '20261115T060000Z')
        + _report('converge', '20261207T060000Z')
        + _report('converge', '20261207T060000Z', 2)
        + _report('converge-20261101T000000Z', '20261206T060000Z')  # a playbook named like a time
        + ['exist-fleet-report-latest.json', 'exist-fleet-report-latest.md', 'exist-fleet-report.json', 'notes.md']
        + ['exist-fleet-report-converge-20261130T060000Z.txt', '.exist-fleet-report-x.json.abc.tmp']
    )
    current = 'exist-fleet-report-converge-20261207T184500Z'
    names += _report('converge', '20261207T184500Z')
    assert files.expired_reports(names, 2, current) == sorted(
        _report('refresh', '20261115T060000Z')
        + _report('converge', '20261201T060000Z')
        + _report('converge-20261101T000000Z', '20261206T060000Z')
    )
    # Of two reports of one second, the counter orders them.
    one_kept = files.expired_reports(names, 1, current)
    assert set(_report('converge', '20261207T060000Z')) <= set(one_kept)
    assert not set(_report('converge', '20261207T060000Z', 2)) & set(one_kept)
    assert files.expired_reports(names, 5, current) == []
    assert files.expired_reports(names, 0, current) == []  # 0 keeps every report
    # Whatever keep is, the current report stays, and nothing of another name pattern goes.
    doomed = files.expired_reports(names, 1, current)
    assert not any(name.startswith(current) for name in doomed)
    assert not set(doomed) & {'exist-fleet-report-latest.json', 'exist-fleet-report.json', 'notes.md'}


def test_the_latest_link_is_replaced_atomically_and_relative(tmp_path):
    for stem in ('exist-fleet-report-a-20261207T184500Z', 'exist-fleet-report-a-20261207T184501Z'):
        (tmp_path / (stem + '.json')).write_text(stem)
        assert files.replace_link(str(tmp_path), stem + '.json', stem.encode(), 0o644) == 'link'
    link = tmp_path / 'exist-fleet-report-latest.json'
    assert os.readlink(str(link)) == 'exist-fleet-report-a-20261207T184501Z.json'
    assert link.read_text() == 'exist-fleet-report-a-20261207T184501Z'
    assert sorted(os.listdir(str(tmp_path))) == [
        'exist-fleet-report-a-20261207T184500Z.json',
        'exist-fleet-report-a-20261207T184501Z.json',
        'exist-fleet-report-latest.json',
    ]


def test_without_symbolic_links_the_latest_is_a_copy(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError(1, 'Operation not permitted')

    os.symlink('gone.md', str(tmp_path / 'exist-fleet-report-latest.md'))
    monkeypatch.setattr(files.os, 'symlink', refuse)
    assert files.replace_link(str(tmp_path), 'exist-fleet-report-a-20261207T184500Z.md', b'# report\n', 0o644) == 'copy'
    latest = tmp_path / 'exist-fleet-report-latest.md'
    assert not latest.is_symlink() and latest.read_text() == '# report\n'
    assert os.listdir(str(tmp_path)) == ['exist-fleet-report-latest.md']


def test_remove_reports_deletes_only_the_named_files(tmp_path):
    for name in ('a.json', 'b.json', 'c.json'):
        (tmp_path / name).write_text(name)
    assert files.remove_reports(str(tmp_path), ['a.json', 'missing.json', 'c.json']) == ['a.json', 'c.json']
    assert os.listdir(str(tmp_path)) == ['b.json']
