"""Playwright on Debian's Chromium (/usr/bin/chromium): no browser is ever downloaded.

Screenshots go to test-results/screenshots/ (git-ignored), named after the test.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("HESK_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    }


@pytest.fixture
def screenshot(page, request):
    """``screenshot("step-name")`` saves a full-page PNG and returns its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    db_kind = "mariadb" if os.environ.get("HESK_TEST_DATABASE_URL") else "sqlite"

    def shoot(name: str) -> Path:
        path = SCREENSHOTS / f"{request.node.name}-{db_kind}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000, "the screenshot is empty"
        return path

    return shoot
