# Copyright (c) existio.exist contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one secret set: what counts as a secret and how a text is masked."""

from __future__ import annotations

from ansible_collections.existio.exist.plugins.module_utils._secrets import MASK, Secrets


def test_a_secret_is_masked_as_given_and_stripped():
    secrets = Secrets(' tok-123 ')
    assert secrets.mask('sent " tok-123 " and tok-123') == 'sent "%s" and %s' % (MASK, MASK)


def test_a_secret_inside_another_leaves_no_piece_of_the_longer_one():
    secrets = Secrets('abc', 'xxabcxx')
    assert secrets.mask('token xxabcxx') == 'token %s' % MASK
    assert 'xx' not in secrets.mask('token xxabcxx')


def test_blank_and_non_text_values_are_no_secrets():
    secrets = Secrets('', '   ', None, 42)
    assert len(secrets) == 0
    assert secrets.mask('42 and   spaces') == '42 and   spaces'


def test_anything_is_masked_as_its_text():
    assert Secrets('s3cret').mask(ValueError('bad s3cret')) == 'bad %s' % MASK


def test_add_grows_the_set():
    secrets = Secrets('one-token')
    secrets.add('two-token')
    assert set(secrets) == {'one-token', 'two-token'}
    assert secrets.mask('one-token two-token') == '%s %s' % (MASK, MASK)
