"""A real JupyterLab server (subprocess) and a real browser (Debian's chromium via Playwright)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..conftest import CHROMIUM, require

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@dataclass(frozen=True)
class LabServer:
    url: str
    token: str
    root: Path
    store: Path

    def lab_url(self, path: str = "lab") -> str:
        # `reset` starts each page from the default layout: a notebook a previous test left open
        # must not be restored and become the current widget.
        return f"{self.url}{path}?token={self.token}&reset"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_lab(tmp_path_factory: pytest.TempPathFactory, root: Path | None = None,
                path_first: Path | None = None, extra: tuple[str, ...] = ()) -> Iterator[LabServer]:  # fmt: skip
    """A JupyterLab server on ``root`` (a new folder by default) with its store in ``root/.mlm``;
    ``path_first`` goes first on the PATH its kernels see (as `make lab` puts the venv's bin)."""
    jupyter = str(Path(sys.executable).with_name("jupyter"))
    root = root or tmp_path_factory.mktemp("lab-root")
    store = root / ".mlm"
    settings = tmp_path_factory.mktemp("lab-settings")
    notification = settings / "user" / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port = _free_port()
    token = secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLM_")}
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(settings / "workspaces")
    if path_first is not None:
        env["PATH"] = f"{path_first}{os.pathsep}{env.get('PATH', '')}"
    log = open(tmp_path_factory.mktemp("lab-log") / "server.log", "w+b")  # noqa: SIM115
    process = subprocess.Popen(
        [
            jupyter, "lab", "--allow-root", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
            "--LabApp.news_url=None", f"--LabApp.user_settings_dir={settings / 'user'}",
            f"--LabApp.workspaces_dir={settings / 'workspaces'}", "--LabApp.expose_app_in_browser=True", *extra,
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}api/status?token={token}", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"JupyterLab did not start:\n{log.read().decode(errors='replace')[-3000:]}")
            time.sleep(0.3)
    try:
        yield LabServer(base, token, root, store)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="package")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    with running_lab(tmp_path_factory, extra=("--MLM.require_approval_for=production",)) as lab:
        yield lab


# Package scope: Playwright's sync API keeps an event loop running while open, which would
# break the asyncio fixtures of tests collected after this package.
@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    require(Path(CHROMIUM).exists(), f"chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    opened = context.new_page()
    yield opened
    context.close()


def screenshot(page: object, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))  # type: ignore[attr-defined]
    return path


@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> None:
    """Replaces pytest-jupyter's autouse loop: Playwright's sync API runs its own event loop."""
    return None


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> None:
    """No in-process server here (the lab runs in a subprocess), so nothing to clean up."""
    return None


@contextmanager
def environment(**values: str) -> Iterator[None]:
    """Set environment variables for kernels started in the block (nbclient), then restore them."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def compare_themes(page: Any, element: Any, name: str) -> tuple[str, str]:
    """Background of ``element`` in the light theme and in the dark one (screenshot ``name`` taken
    in the dark), leaving the light theme on for the next test."""
    light = element.evaluate("el => getComputedStyle(el).backgroundColor")
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000)
    page.wait_for_timeout(500)  # the theme's CSS variables apply after the class flips
    dark = element.evaluate("el => getComputedStyle(el).backgroundColor")
    screenshot(page, name)
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    page.wait_for_function("() => document.body.dataset.jpThemeLight === 'true'", timeout=30_000)
    return light, dark


# WCAG 2 contrast of an element's text against what is painted behind it: the element's and its
# ancestors' backgrounds composited from the first opaque one up (colours read through a canvas,
# which understands every CSS colour syntax, color-mix() results included).
_CONTRAST_JS = """
(elements) => {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const rgba = css => {
    ctx.clearRect(0, 0, 1, 1);
    ctx.fillStyle = '#000';
    ctx.fillStyle = css;
    ctx.fillRect(0, 0, 1, 1);
    const d = ctx.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  };
  const over = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const luminance = c => {
    const [r, g, b] = c.slice(0, 3).map(v => {
      v /= 255;
      return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  return elements.map(el => {
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
      const bg = rgba(getComputedStyle(node).backgroundColor);
      if (bg[3] > 0) layers.push(bg);
      if (bg[3] >= 1) break;
    }
    let background = [255, 255, 255, 1];
    if (!layers.length || layers[layers.length - 1][3] < 1) {
      background = rgba(getComputedStyle(document.body).getPropertyValue('--jp-layout-color0') || 'white');
    }
    for (const layer of layers.reverse()) background = over(layer, background);
    const text = over(rgba(getComputedStyle(el).color), background);
    const [hi, lo] = [luminance(text), luminance(background)].sort((a, b) => b - a);
    return {text: el.innerText.trim().slice(0, 40), ratio: (hi + 0.05) / (lo + 0.05),
            fg: text.map(Math.round).slice(0, 3), bg: background.map(Math.round).slice(0, 3)};
  });
}
"""


def contrasts(page: Any, selector: str) -> list[dict[str, Any]]:
    """The text/background contrast of every visible element matching ``selector``."""
    elements = [e for e in page.locator(selector).all() if e.is_visible() and e.inner_text().strip()]
    if not elements:
        return []
    handles = [e.element_handle() for e in elements]
    return list(page.evaluate(_CONTRAST_JS, handles))


def set_theme(page: Any, theme: str) -> None:
    light = "true" if theme == "JupyterLab Light" else "false"
    page.evaluate(f"() => window.jupyterapp.commands.execute('apputils:change-theme', {{theme: '{theme}'}})")
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'", timeout=30_000)
    page.wait_for_timeout(500)  # the theme's CSS variables apply after the class flips


SIDEBAR = "jupyter-mlm-sidebar"


def open_sidebar(page: Any, lab: LabServer, reset: bool = True) -> Any:
    """JupyterLab with the model management sidebar showing; ``reset=False`` keeps the
    workspace (what a reload does), which ``reset`` otherwise starts from scratch."""
    page.goto(lab.lab_url() if reset else lab.lab_url().removesuffix("&reset"))
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    tab = page.locator(f'li[data-id="{SIDEBAR}"]')
    tab.wait_for()
    # The workspace may restore the panel already open; a click would then close it.
    if "lm-mod-current" not in (tab.get_attribute("class") or ""):
        tab.click()
    panel = page.locator(f"#{SIDEBAR}")
    panel.wait_for(state="visible")
    return panel


def assert_readable(page: Any, selectors: str, name: str, at_least: int = 5) -> list[dict[str, Any]]:
    """In the light and the dark theme, every visible text matching ``selectors`` stands out
    from its background at WCAG AA (4.5:1); a screenshot ``NAME-light``/``NAME-dark`` each.
    Returns what was measured (both themes)."""
    measured_all: list[dict[str, Any]] = []
    try:
        for theme, suffix in (("JupyterLab Light", "light"), ("JupyterLab Dark", "dark")):
            set_theme(page, theme)
            measured = contrasts(page, selectors)
            assert len(measured) >= at_least, f"{suffix}: only {len(measured)} texts matched {selectors}"
            poor = [m for m in measured if m["ratio"] < 4.5]
            assert poor == [], f"{suffix}: text under 4.5:1 against its background: {poor[:5]}"
            screenshot(page, f"{name}-{suffix}")
            measured_all += measured
    finally:
        set_theme(page, "JupyterLab Light")
    return measured_all
