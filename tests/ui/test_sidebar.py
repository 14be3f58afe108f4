"""The "Model management" sidebar in a real JupyterLab, in a real browser."""

from __future__ import annotations

from typing import Any

from .conftest import LabServer, screenshot

SIDEBAR = "jupyter-mlm-sidebar"


def open_sidebar(page: Any, lab: LabServer) -> Any:
    page.goto(lab.lab_url())
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    page.click(f'li[data-id="{SIDEBAR}"]')
    panel = page.locator(f"#{SIDEBAR}")
    panel.wait_for(state="visible")
    return panel


def test_sidebar_shows_store_location_and_counts(page: Any, lab_server: LabServer) -> None:
    panel = open_sidebar(page, lab_server)
    store_uri = panel.locator(".jp-mlm-store-uri")
    store_uri.wait_for(timeout=30_000)
    assert store_uri.inner_text() == f"sqlite:///{lab_server.store.resolve() / 'mlm.db'}"
    assert panel.locator(".jp-mlm-schema").inner_text().strip() != ""
    assert panel.locator(".jp-mlm-count-runs").inner_text() == "0"
    assert "Model management" in panel.inner_text()
    shot = screenshot(page, "sidebar-status")
    assert shot.stat().st_size > 10_000


def test_sidebar_follows_the_dark_theme(page: Any, lab_server: LabServer) -> None:
    panel = open_sidebar(page, lab_server)
    panel.locator(".jp-mlm-store-uri").wait_for(timeout=30_000)
    light = panel.evaluate("el => getComputedStyle(el).backgroundColor")
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
    page.wait_for_timeout(500)
    dark = panel.evaluate("el => getComputedStyle(el).backgroundColor")
    screenshot(page, "sidebar-status-dark")
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    assert light != dark
