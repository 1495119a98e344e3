"""The dashboard in a real headless Chromium (Debian's chromium + chromium-driver, Selenium).

One real registry process on a real Redis, real agents heartbeating (one of them a separate
process that gets SIGKILLed). Every page is loaded and checked for what a user sees; the
killed provider must turn degraded, then expired, on the open page without a reload; the
filters must narrow the table; the events page must append new events live. A screenshot
of each page is saved under the test's tmp dir (and into ``$REGISTRY_UI_SCREENSHOTS`` when
set, which is how docs/dashboard.png was made).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from agents_data import consumer, provider, tool
from config_bundles import worker, worker_bundle
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from support import RegistryProcess, start_registry

from service.domain.thresholds import Thresholds

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
THRESHOLDS = Thresholds(
    heartbeat_interval=0.5, degraded_after=2.0, expire_after=4.0, retention=120.0
)
DOOMED = """
import sys, time, httpx
url, body = sys.argv[1], {"agent_id": "doomed-1", "name": "doomed", "http_host": "127.0.0.1",
    "http_port": 9300, "tools": [{"function_name": "forecast", "capability": "weather-forecast",
    "version": "1.2.0", "tags": ["weather"]}]}
while True:
    httpx.post(url + "/heartbeat", json=body, timeout=2)
    print("beat", flush=True)
    time.sleep(0.3)
"""


class Keepalive:
    """Full heartbeats for ``bodies`` every 0.5 s in a thread, until :meth:`stop`."""

    def __init__(self, url: str, bodies: list[dict[str, Any]]) -> None:
        self.url, self.bodies = url, bodies
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        for body in self.bodies:
            httpx.post(f"{self.url}/heartbeat", json=body, timeout=5).raise_for_status()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        with httpx.Client(timeout=2) as http:
            while not self._stop.wait(0.5):
                for body in self.bodies:
                    http.post(f"{self.url}/heartbeat", json=body)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    if CHROMIUM is None or DRIVER is None:
        pytest.fail("chromium and chromedriver are not installed: `make chromium`")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def registry(redis_url: str, tmp_path: Path) -> Iterator[RegistryProcess]:
    bundle = worker_bundle(tmp_path / "bundle", thresholds=THRESHOLDS)
    reg = start_registry(
        tmp_path,
        REGISTRY_REDIS_URL=redis_url,
        REGISTRY_BUNDLE_DIR=str(bundle.path),
        REGISTRY_SWEEP_INTERVAL="0.2",
        REGISTRY_DRIFT_INTERVAL="0.5",
    )
    yield reg
    reg.stop()


class Shots:
    """Saves one screenshot per page as a test artefact."""

    def __init__(self, driver: WebDriver, tmp_path: Path) -> None:
        self.driver = driver
        self.dirs = [tmp_path / "screenshots"]
        extra = os.environ.get("REGISTRY_UI_SCREENSHOTS")
        if extra:
            self.dirs.append(Path(extra))
        for d in self.dirs:
            d.mkdir(parents=True, exist_ok=True)

    def take(self, name: str) -> None:
        for d in self.dirs:
            assert self.driver.save_screenshot(str(d / f"{name}.png"))


def wait_for(driver: WebDriver, check: Any, what: str, timeout: float = 20.0) -> Any:
    """Poll ``check(driver)`` until truthy (stale elements count as not yet)."""

    def safe(d: WebDriver) -> Any:
        try:
            return check(d)
        except StaleElementReferenceException:
            return False  # the live part was swapped in between find and read
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return False  # the same race, as Chromium sometimes reports it
            raise

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(safe, message=what)


# Live parts are swapped in while the test reads them. Reading them in one script, inside the
# page, is atomic; reading element by element through WebDriver can hit a node that was just
# replaced, which Chromium reports either as a stale element or as an "unknown error" (a node
# that "does not belong to the document").
_STATUS_JS = """
const cell = document.querySelector(`tr[data-agent="${arguments[0]}"] [data-status]`);
return cell === null ? null : cell.innerText;
"""
_ROWS_JS = """
return Array.from(document.querySelectorAll(`#${arguments[0]} tr[data-agent]`),
                  (r) => r.dataset.agent);
"""


def status_of(driver: WebDriver, agent_id: str) -> str:
    text = driver.execute_script(_STATUS_JS, agent_id)
    if text is None:
        raise NoSuchElementException(f"no status cell for {agent_id}")
    return str(text).strip()


def rows(driver: WebDriver, table: str) -> list[str]:
    return [str(a) for a in driver.execute_script(_ROWS_JS, table)]


def test_dashboard_pages_live_status_filters_and_events(
    browser: WebDriver, registry: RegistryProcess, tmp_path: Path
) -> None:
    url = registry.url
    shots = Shots(browser, tmp_path)
    alive = Keepalive(
        url,
        [
            provider("greeter-1", tags=["english"]),
            provider("greeter-2", tags=["french"], port=9003),
            consumer("welcomer-1"),
            worker("w-1"),
        ],
    )
    alive.start()
    doomed = subprocess.Popen(
        [sys.executable, "-c", DOOMED, url], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert doomed.stdout is not None and doomed.stdout.readline() == b"beat\n"

        # Overview: counts from Redis.
        browser.get(f"{url}/ui")
        wait_for(
            browser,
            lambda d: d.find_element(By.CSS_SELECTOR, "#count-healthy .n").text == "5",
            "five healthy agents on the overview",
        )
        assert browser.find_element(By.CSS_SELECTOR, '#namespaces tr[data-namespace="default"]')
        shots.take("overview")

        # Agents table, then the filters (capability + excluded tag), as a user would.
        browser.get(f"{url}/ui/agents")
        wait_for(browser, lambda d: len(rows(d, "agents")) == 5, "five agents listed")
        assert set(rows(browser, "agents")) == {
            "greeter-1", "greeter-2", "welcomer-1", "w-1", "doomed-1"
        }  # fmt: skip
        shots.take("agents")
        browser.find_element(By.NAME, "capability").send_keys("greeting")
        browser.find_element(By.NAME, "tag").send_keys("-french")
        browser.find_element(By.ID, "apply").click()
        wait_for(browser, lambda d: rows(d, "agents") == ["greeter-1"], "filtered to greeter-1")
        assert "capability=greeting" in browser.current_url
        shots.take("agents-filtered")
        status_select = "select[name=status] option[value='']"
        assert browser.find_element(By.CSS_SELECTOR, status_select)

        # One agent: its tool, its dependency and the provider it is wired to.
        browser.get(f"{url}/ui/agents/welcomer-1")
        wiring = browser.find_element(By.ID, "wiring")
        assert "greeting" in wiring.text and "greeter-1" in wiring.text
        assert "greeter-2" not in wiring.text  # the dependency asks for the english tag
        assert "welcome" in browser.find_element(By.ID, "tools").text
        assert "register" in browser.find_element(By.ID, "timeline").text
        shots.take("agent")

        # Capabilities, and one capability's providers.
        browser.get(f"{url}/ui/capabilities")
        caps = browser.find_element(By.ID, "capabilities").text
        assert "greeting" in caps and "weather-forecast" in caps
        shots.take("capabilities")
        browser.find_element(By.LINK_TEXT, "greeting").click()
        wait_for(browser, lambda d: "providers in default" in d.page_source, "providers page")
        assert set(rows(browser, "providers")) == {"greeter-1", "greeter-2"}
        shots.take("providers")

        # Drift and config versions (the replica serves a bundle).
        browser.get(f"{url}/ui/drift")
        assert browser.find_element(By.CSS_SELECTOR, '#drift tr[data-profile="worker"]')
        shots.take("drift")
        browser.get(f"{url}/ui/config")
        version = browser.find_element(By.ID, "active-version").text
        assert version.startswith("sha256:")
        assert version in browser.find_element(By.ID, "versions").text
        shots.take("config")

        # The provider process dies: the open agents page follows, with no reload.
        browser.get(f"{url}/ui/agents")
        wait_for(browser, lambda d: status_of(d, "doomed-1") == "healthy", "doomed-1 healthy")
        browser.execute_script("window.__noReload = 'still here';")
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
        wait_for(browser, lambda d: status_of(d, "doomed-1") == "degraded", "turns degraded")
        shots.take("agents-degraded")
        wait_for(browser, lambda d: status_of(d, "doomed-1") == "expired", "then expired")
        assert browser.execute_script("return window.__noReload;") == "still here"
        assert status_of(browser, "greeter-1") == "healthy"  # the others kept beating
        shots.take("agents-expired")

        # Live events: a new agent appears on the open events page.
        browser.get(f"{url}/ui/events")
        wait_for(
            browser,
            lambda d: d.find_element(By.ID, "events").get_attribute("data-connected") == "1",
            "the event stream is connected",
        )
        assert "doomed-1" in browser.find_element(By.ID, "events").text  # its expiry
        browser.execute_script("window.__noReload = 'still here';")
        late = provider("late-1", port=9400)
        late["tools"].append(tool("shout", "shouting"))
        httpx.post(f"{url}/heartbeat", json=late, timeout=5).raise_for_status()
        wait_for(
            browser,
            lambda d: d.find_elements(By.XPATH, "//tbody[@id='events']/tr[td[3]='late-1']"),
            "late-1's register event appended live",
        )
        assert browser.execute_script("return window.__noReload;") == "still here"
        shots.take("events")
    finally:
        if doomed.poll() is None:
            doomed.kill()
            doomed.wait(5)
        if doomed.stdout is not None:
            doomed.stdout.close()
        alive.stop()
    assert len(list((tmp_path / "screenshots").glob("*.png"))) == 11
