"""Revenue share and points in Decimal, never float."""

from decimal import Decimal

import pytest

from partners.models import Partner, PointsMode, ShareType
from partners.money import partner_share, points


@pytest.mark.parametrize(
    ("share_type", "value", "gross", "expected"),
    [
        (ShareType.PERCENT, "70", "1.10", "0.770000"),
        (ShareType.PERCENT, "33.333", "0.10", "0.033333"),
        (ShareType.PERCENT, "50", "0.000001", "0.000001"),
        (ShareType.PERCENT, "100", "12345678.123456", "12345678.123456"),
        (ShareType.PERCENT, "0", "5", "0.000000"),
        (ShareType.FIXED, "0.25", "100", "0.250000"),
    ],
)
def test_the_partner_share_is_exact(share_type, value, gross, expected):
    partner = Partner(share_type=share_type, share_value=Decimal(value))

    share = partner_share(partner, Decimal(gross))

    assert isinstance(share, Decimal)
    assert str(share) == expected


def test_a_tenth_plus_two_tenths_stays_exact_where_float_would_not():
    partner = Partner(share_type=ShareType.PERCENT, share_value=Decimal("100"))

    assert partner_share(partner, Decimal("0.1")) + partner_share(partner, Decimal("0.2")) == Decimal("0.3")


@pytest.mark.parametrize(
    ("mode", "value", "share", "expected"),
    [
        (PointsMode.RATE, "100", "0.77", "77"),
        (PointsMode.RATE, "100", "0.775", "78"),
        (PointsMode.RATE, "1000", "0.0001", "0"),
        (PointsMode.FIXED, "50", "9.99", "50"),
    ],
)
def test_points_are_whole_and_rounded_half_up(mode, value, share, expected):
    partner = Partner(points_mode=mode, points_value=Decimal(value))

    assert points(partner, Decimal(share)) == Decimal(expected)
