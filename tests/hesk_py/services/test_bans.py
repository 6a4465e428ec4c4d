"""The bans service: email addresses and domains, IPv4/IPv6 single addresses, ranges, CIDR, wildcards."""
from __future__ import annotations

import pytest

from hesk_py.services import bans


@pytest.mark.parametrize("text, inside, outside", [
    ("192.0.2.7", ["192.0.2.7"], ["192.0.2.8", "192.0.2.6"]),
    ("192.0.2.10-192.0.2.20", ["192.0.2.10", "192.0.2.15", "192.0.2.20"], ["192.0.2.9", "192.0.2.21"]),
    ("192.0.2.20 - 192.0.2.10", ["192.0.2.12"], ["192.0.2.21"]),  # written backwards
    ("10.1.0.0/16", ["10.1.0.0", "10.1.255.255", "10.1.3.4"], ["10.2.0.0", "10.0.255.255"]),
    ("172.16.*.*", ["172.16.0.1", "172.16.200.9"], ["172.17.0.1"]),
    ("10.2.*", ["10.2.0.0", "10.2.255.255"], ["10.3.0.0", "10.1.255.255"]),  # HESK's short wildcard
    ("2001:db8::/32", ["2001:db8::1", "2001:db8:ffff::5"], ["2001:db9::1", "192.0.2.1"]),
    ("::ffff:198.51.100.3", ["198.51.100.3", "::ffff:198.51.100.3"], ["198.51.100.4"]),
])
def test_ip_bans(app_ctx, text, inside, outside):
    bans.ban_ip(text)
    for ip in inside:
        assert bans.is_ip_banned(ip), ip
    for ip in outside:
        assert not bans.is_ip_banned(ip), ip


@pytest.mark.parametrize("text", ["", "not an ip", "300.1.1.1", "1.2.3", "1.*.3.4", "1.2.3.4-::1", "10.0.0.0/40"])
def test_ip_bans_that_make_no_sense_are_refused(app_ctx, text):
    with pytest.raises(bans.InvalidBan):
        bans.parse_ip_ban(text)


def test_garbage_addresses_are_simply_not_banned(app_ctx):
    bans.ban_ip("0.0.0.0/0")
    assert not bans.is_ip_banned("")
    assert not bans.is_ip_banned("unknown")
    assert bans.is_ip_banned("8.8.8.8")
    assert not bans.is_ip_banned("2001:db8::1")  # an IPv4 block does not cover IPv6


def test_email_bans(app_ctx):
    bans.ban_email("Spammer@Example.com")
    bans.ban_email("@junk.example")
    assert bans.is_email_banned("spammer@example.com")
    assert bans.is_email_banned("SPAMMER@EXAMPLE.COM ")
    assert not bans.is_email_banned("friend@example.com")
    assert bans.is_email_banned("anyone@junk.example")
    assert not bans.is_email_banned("anyone@sub.junk.example")  # a domain ban is that domain
    assert not bans.is_email_banned("")
    assert bans.ban_email("spammer@example.com").email == "spammer@example.com"  # twice is once
    with pytest.raises(bans.InvalidBan):
        bans.ban_email("not-an-email")


def test_unban(app_ctx):
    ban = bans.ban_ip("192.0.2.1")
    email = bans.ban_email("x@example.com")
    bans.unban_ip(ban.id)
    bans.unban_email(email.id)
    assert not bans.is_ip_banned("192.0.2.1")
    assert not bans.is_email_banned("x@example.com")
