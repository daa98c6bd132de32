"""The demo in Chromium: every department's source healthy, then the silenced one turns SILENT.

The whole platform runs in-process with short freshness thresholds for realtime sources; the
simulated departments publish in the background (the `silent-tthc` mix: the TTHC system stops
after a number of events). Debian's Chromium (Playwright, never a downloaded browser) watches
the dashboard live and saves screenshots under `test-artifacts/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from pathlib import Path

import pytest
from browser_sign_in import sign_in
from playwright.async_api import Browser, Page, expect

from lgsp_common.settings import KafkaSettings
from lgsp_devkit.inprocess import in_process_platform
from lgsp_simulators.scenario import Faults, Silence, load_scenario
from lgsp_simulators.session import Options, Simulation, Target

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(150)]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SOURCES = (
    "stc-thu-ngan-sach",
    "stc-giai-ngan-dau-tu",
    "syt-kham-chua-benh",
    "svhttdl-bao-cao-luu-tru",
    "dvc-ho-so-tthc",
    "cat-xac-thuc-dan-cu",
)
SILENCED = "dvc-ho-so-tthc"
CITIZENS = 1000


async def screenshot(page: Page, name: str) -> None:
    """Save a full-page screenshot under test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def background_simulation(target: Target) -> Simulation:
    """Return the silent-TTHC scenario, set to run until stopped, TTHC silent after 250."""
    scenario = load_scenario(ROOT / "scenarios/silent-tthc.yaml")
    silence = Silence(department="tthc", after_events=250)
    link = scenario.population.model_copy(update={"count": CITIZENS, "pool": CITIZENS})
    scenario = scenario.model_copy(update={
        "faults": Faults(invalid_share=0.02, silence=silence), "population": link,
    })  # fmt: skip
    options = Options(rate=40, events=None, batch_size=8, run_id="browser")
    return Simulation(scenario, target, options, say=lambda _: None)


async def test_dashboard_shows_departments_healthy_then_one_silent(
    browser: Browser, kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    thresholds = {"realtime": {"late": 4, "silent": 8}}
    async with in_process_platform(
        kafka_settings, tmp_path, citizens=CITIZENS, health_thresholds=thresholds
    ) as platform:
        target = Target(platform.urls["gateway"], platform.urls["registry"], platform.token)
        simulation = background_simulation(target)
        running = asyncio.create_task(simulation.run())
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1100})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await sign_in(page, platform.urls["collector"], platform.viewer_token)
            await expect(page.locator("#connection")).to_have_attribute("data-state", "online")
            for source in SOURCES:
                row = page.locator(f'tr[data-source-id="{source}"]')
                await expect(row).to_have_class("status-OK", timeout=40_000)
            await screenshot(page, "demo-all-healthy.png")

            silenced = page.locator(f'tr[data-source-id="{SILENCED}"]')
            await expect(silenced).to_have_class("status-SILENT", timeout=60_000)
            await expect(silenced.locator(".source-status")).to_have_text("SILENT")
            for source in SOURCES:  # the others are still fresh
                if source != SILENCED:
                    row = page.locator(f'tr[data-source-id="{source}"]')
                    await expect(row).to_have_class("status-OK")
            tile = page.locator('[data-kpi-id="medical-visits-cccd-chip-share"] .kpi-value')
            await expect(tile).to_have_text(re.compile(r"\d"))  # a value, not "–" (no data)
            await screenshot(page, "demo-tthc-silent.png")
            assert errors == []
        finally:
            simulation.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(running, 30)
        assert simulation.document is not None
        assert simulation.document["notes"]["silenced"]["sent"] == 250
