"""The Chinese edition in Chromium: every page read on a phone and on a laptop (the checks
are in tests/reading.py; the English edition is test_reading_en.py)."""

import pytest
from browsing import PAGES
from reading import laptop_reading, phone_reading

EDITION = "zh"


@pytest.mark.parametrize("page", PAGES)
def test_phone_reading(page, visit):
    phone_reading(EDITION, page, visit)


@pytest.mark.parametrize("page", PAGES)
def test_laptop_reading(page, visit):
    laptop_reading(EDITION, page, visit)
