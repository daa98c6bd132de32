"""Fixtures of the browser tests: Debian's Chromium, launched headless through Playwright."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

# Tests run with --import-mode=importlib, which puts no test folder on sys.path (browser_sign_in).
sys.path.insert(0, str(Path(__file__).parent))
CHROMIUM = "/usr/bin/chromium"
# No background networking: the machine's closed network would refuse those connections.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Launch the machine's Chromium headless (never a downloaded browser)."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail("Chromium is not installed: apt-get install chromium (scripts/test does)")
    async with async_playwright() as playwright:
        found = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield found
        finally:
            await found.close()
