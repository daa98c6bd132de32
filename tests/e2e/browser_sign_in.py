"""Sign a browser page in to the collector's dashboard through its sign-in page (as a person)."""

from __future__ import annotations

from playwright.async_api import Page, expect


async def sign_in(page: Page, collector_url: str, token: str) -> None:
    """Open the dashboard, be sent to the sign-in page, enter the token, land on the dashboard."""
    await page.goto(collector_url + "/")
    await expect(page).to_have_url(collector_url + "/login")
    await expect(page.locator("#login-title")).to_contain_text("Đăng nhập")
    await expect(page.locator("label[for=token]")).to_contain_text("Access token")
    await page.fill("#token", token)
    await page.click("#login-button")
    await expect(page).to_have_url(collector_url + "/")
