"""The Dagster UI as an operator uses it, in headless Chromium: `greenlight dev` on a fresh machine.

Opens the asset graph, opens ``reconcile/sync_report``, launches a materialization of
``sf/job_statuses`` with the asset page's Materialize button and waits until the Runs page shows
it succeeded; then materializes the report the same way and checks that its chart (a PNG inside
the Markdown metadata) is rendered as an image. Screenshots of each step go to the test's tmp dir (the path is printed),
never into the repository. The browser is Debian's chromium with its matching chromedriver
(`scripts/install_browser.sh`); the test is skipped, saying so, only where they are missing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from greenlight_dagster_tests.ui.dagster_ui import DagsterUi

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
RUN_SECONDS = 240

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason="needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver):"
                              " run scripts/install_browser.sh as root"),
]

if CHROMIUM.exists() and CHROMEDRIVER.exists():
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1600,1000", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


class Operator:
    """What a person does in the UI, with a screenshot after each step."""

    def __init__(self, driver: WebDriver, base_url: str, shots: Path) -> None:
        self.driver, self.base_url, self.shots = driver, base_url, shots
        shots.mkdir(parents=True, exist_ok=True)

    def wait(self, seconds: float = 60) -> WebDriverWait:
        """A wait that retries across React re-renders (an element found just before one goes stale)."""
        return WebDriverWait(self.driver, seconds, poll_frequency=0.5,
                             ignored_exceptions=(StaleElementReferenceException,))

    def open(self, path: str) -> None:
        self.driver.get(f"{self.base_url}{path}")

    def see_text(self, text: str, seconds: float = 90) -> None:
        self.wait(seconds).until(ec.presence_of_element_located(
            (By.XPATH, f"//body//*[text()[contains(., '{text}')]]")))

    def sees_no_welcome_dialog(self) -> bool:
        """Whether the page is free of the "Join the Dagster community" dialog (the instance turns ``nux`` off)."""
        found = self.driver.find_elements(By.XPATH, "//body//*[text()[contains(., 'Join the Dagster community')]]")
        return not found and not self.driver.find_elements(By.CSS_SELECTOR, ".bp5-overlay-backdrop")

    def click_text(self, text: str) -> None:
        """Click the first clickable element whose own text contains ``text`` (links that are not buttons)."""
        self.wait().until(ec.element_to_be_clickable((By.XPATH, f"//body//*[text()[contains(., '{text}')]]"))).click()

    def click_button(self, label: str, seconds: float = 60) -> None:
        """Click the button labelled ``label`` once it is clickable (retried if it re-renders meanwhile)."""
        def click(driver: WebDriver) -> bool:
            button = ec.element_to_be_clickable((By.XPATH, f"//button[normalize-space(.)='{label}']"))(driver)
            if not button:
                return False
            button.click()
            return True

        self.wait(seconds).until(click)

    def screenshot(self, name: str) -> Path:
        time.sleep(1)  # let the last render settle so the picture shows what the step produced
        path = self.shots / f"{name}.png"
        assert self.driver.save_screenshot(str(path)), f"no screenshot {path}"
        return path

    def wait_for_runs(self, finished: int) -> str:
        """Reload the Runs page until ``finished`` runs have ended; returns its text."""
        deadline = time.monotonic() + RUN_SECONDS
        page = ""
        while time.monotonic() < deadline:
            page = self.runs_page()
            if sum(page.count(outcome) for outcome in ("Success", "Failure", "Canceled")) >= finished:
                break
            time.sleep(3)
        return page

    def runs_page(self) -> str:
        """The Runs page as a person reads it (its text)."""
        self.open("/runs")
        self.see_text("Launched by")
        time.sleep(2)  # the run list arrives after the table header
        return str(self.driver.find_element(By.TAG_NAME, "body").text)


def test_operator_materializes_an_asset_from_the_ui(dev: tuple[DagsterUi, Path], browser: WebDriver,
                                                    tmp_path: Path) -> None:
    person = Operator(browser, dev[0].url, tmp_path / "screenshots")
    # the `greenlight dev` is shared with the other UI tests: count from what they left
    statuses = dev[0].run_statuses()
    ended, succeeded = sum(s in ("SUCCESS", "FAILURE", "CANCELED") for s in statuses), statuses.count("SUCCESS")

    person.open("/asset-groups")
    for group in ("propertyware", "servicefusion", "warehouse", "reconcile", "push"):
        person.see_text(group)
    assert person.sees_no_welcome_dialog(), "the first screen must be the asset graph (issue 20 item 6)"
    person.screenshot("1-asset-graph")

    person.open("/assets/reconcile/sync_report?view=lineage")
    for upstream in ("sf_customers", "sf_jobs", "pw_work_orders"):
        person.see_text(upstream)
    person.screenshot("2-sync-report-lineage")

    person.open("/assets/reconcile/sync_report")
    person.see_text("After each sync")
    person.screenshot("3-sync-report")

    person.open("/assets/sf/job_statuses")
    person.see_text("job_statuses")
    person.click_button("Materialize")
    person.screenshot("4-materialization-launched")

    page = person.wait_for_runs(ended + 1)
    person.screenshot("5-runs")
    assert "sf / job_statuses" in page and page.count("Success") == succeeded + 1, page

    person.open("/assets/sf/job_statuses")
    person.see_text("records_fetched")
    person.screenshot("6-job-statuses-materialized")

    # the report renders its chart inline: a data: URI image inside the Markdown metadata
    person.open("/assets/reconcile/sync_report")
    person.click_button("Materialize")
    person.see_text("have not been materialized yet")  # upstream push assets: the UI asks first
    person.click_button("Confirm")
    person.screenshot("7-report-materialization-launched")
    page = person.wait_for_runs(ended + 2)
    assert page.count("Success") == succeeded + 2, page
    person.open("/assets/reconcile/sync_report")
    person.click_text("Show Markdown")  # the "report" metadata entry opens in a dialog
    person.see_text("Sync report, run")
    shown = person.wait().until(lambda driver: driver.execute_script(
        "const img = document.querySelector(\"img[src^='data:image/png;base64,']\");"
        "if (!img || !img.complete || img.naturalWidth === 0) return false;"
        "img.scrollIntoView(); return img.naturalWidth;"))
    assert shown > 100  # the PNG decoded: the browser knows its width
    person.screenshot("8-sync-report-chart")
    print(f"screenshots in {person.shots}")
