"""The custom fields service: relative and fixed date bounds, validation per type."""
from __future__ import annotations

from datetime import date

import pytest
from werkzeug.datastructures import MultiDict

from hesk_py.services import custom_fields

TODAY = date(2026, 1, 31)


@pytest.mark.parametrize("spec, expected", [
    ("", None), ("2026-03-01", date(2026, 3, 1)), ("+3d", date(2026, 2, 3)), ("-1w", date(2026, 1, 24)),
    ("+1m", date(2026, 2, 28)), ("-2y", date(2024, 1, 31)), ("+0d", TODAY), ("+13m", date(2027, 2, 28)),
])
def test_date_bounds(spec, expected):
    assert custom_fields.date_bound(spec, TODAY) == expected


def test_validate_reads_only_the_given_fields(app_ctx):
    a = custom_fields.create_field(id=1, type="select", names={"en": "A"}, required="always",
                                   options={"options": ["x", "y"]})
    b = custom_fields.create_field(id=2, type="checkbox", names={"en": "B"}, options={"options": ["p", "q"]})
    data = MultiDict([("custom1", "y"), ("custom2", "p"), ("custom2", "zzz"), ("custom3", "ignored")])
    values, errors = custom_fields.validate([a, b], data)
    assert values == {"custom1": "y", "custom2": ["p"]}
    assert errors == {}
    values, errors = custom_fields.validate([a], MultiDict())
    assert list(errors) == ["custom1"]
    # "required for customers" is not required on staff forms
    c = custom_fields.create_field(id=3, type="text", names={"en": "C"}, required="customers")
    assert custom_fields.validate([c], {}, staff=True) == ({}, {})
    assert list(custom_fields.validate([c], {})[1]) == ["custom3"]


def test_display_values(app_ctx):
    f = custom_fields.create_field(id=4, type="checkbox", names={"en": "D"}, options={"options": ["a", "b"]})
    assert custom_fields.display_value(f, ["a", "b"]) == "a, b"
    assert custom_fields.display_value(f, []) == ""
    with pytest.raises(ValueError):
        custom_fields.create_field(id=5, type="radio", names={"en": "E"})
    with pytest.raises(ValueError):
        custom_fields.create_field(id=6, type="colour", names={"en": "F"})
