"""The status page in a real browser and `uptime` on the local stack, through a scripted outage.

Debian's headless Chromium (packages ``chromium`` and ``chromium-driver``, which .ci/run installs)
driven by Selenium with the system browser and driver: Selenium never downloads one. The pages
are fetched from the local stack's HTTP port (the actions function, as on its Function URL).
Screenshots land in the test's own directory; set ``UPTIME_RELAY_SCREENSHOTS=DIR`` to keep them
(docs/images/status-page.png is one, taken that way).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from local_e2e import write_config
from uptime_relay_tools.cli import build_parser
from uptime_relay_tools.cli import uptime as uptime_cli

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
OUTAGE = (3, 7)  # the target answers 503 in minutes 3, 4, 5 and 6
MINUTES = 12
SEEN_DOWN_AT, SEEN_UP_AT = 5, 10  # the alarm (2 of 3) fires at minute 4 and clears at minute 8


@pytest.fixture
def browser(monkeypatch):
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager never fetches a browser or driver
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--window-size=390,1400")  # a phone's width
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    # a simulated minute lasts a fraction of a real second: the page's max-age (60 real seconds)
    # would show the first view again, so every view is a visitor with an empty cache
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    yield driver
    driver.quit()


def keep(shot: Path) -> None:
    wanted = os.environ.get("UPTIME_RELAY_SCREENSHOTS")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(wanted) / shot.name)


def test_the_status_page_shows_the_outage_in_a_browser_and_uptime_counts_it_to_the_minute(
    tmp_path, target, receiver, local_stack, browser
):
    """GIVEN a check listed on the status page, failing in minutes 3-6 of a 12-minute run
    WHEN a headless Chromium (phone-sized) loads /status during the outage and after recovery
    THEN it shows the check Down with its ongoing incident, then Up with the incident resolved,
    without JavaScript and without sideways scrolling; and `uptime` afterwards counts 12 probed
    minutes, 4 of them down: 66.6667%, the hand count."""
    config = write_config(tmp_path / "c.yaml", target_url=target.url, receiver=receiver)
    # moto keeps one CloudWatch per process: a name of its own keeps other tests' `api` minutes out
    check = f"api-{uuid.uuid4().hex[:6]}"
    text = config.read_text().replace("  - name: api\n", f"  - name: {check}\n", 1)
    text = text.replace("    timeout: 2s\n", "    timeout: 2s\n    sla: 99.9\n", 1)
    config.write_text(
        text + "status_page:\n  title: Example status\n  description: Public services\n"
        f"  groups: [{{name: Public, checks: [{check}]}}]\n"
    )
    stack = local_stack(config, outage=OUTAGE, minutes=MINUTES)
    seen: dict[int, dict] = {}

    def look(stack, minute: int) -> None:
        if minute not in (SEEN_DOWN_AT, SEEN_UP_AT):
            return
        browser.get(f"{stack.actions_url}/status")
        shot = tmp_path / ("status-during-outage.png" if minute == SEEN_DOWN_AT else "status-page.png")
        browser.save_screenshot(str(shot))
        keep(shot)
        seen[minute] = browser.execute_script(
            """
            const check = document.getElementById('check-' + arguments[0]);
            return {
              status: check.dataset.status,
              state: check.querySelector('.state').textContent,
              segments: check.querySelectorAll('.day').length,
              open: [...document.querySelectorAll('.incident.open')].map(e => e.dataset.check),
              resolved: [...document.querySelectorAll('.incident.resolved')].map(e => e.dataset.check),
              scripts: document.scripts.length,
              fits: document.documentElement.scrollWidth <= window.innerWidth,
            };""",
            check,
        )

    stack.after_minute = look
    stack.run()

    down, up = seen[SEEN_DOWN_AT], seen[SEEN_UP_AT]
    assert (down["status"], down["state"], down["open"]) == ("down", "Down", [check])
    assert (up["status"], up["state"], up["open"], up["resolved"]) == ("up", "Up", [], [check])
    for page in (down, up):
        assert page["segments"] == 90 and page["scripts"] == 0 and page["fits"]
    assert (tmp_path / "status-during-outage.png").stat().st_size > 0
    assert (tmp_path / "status-page.png").stat().st_size > 0

    # every minute of the run complete, then the SLA report against the hand count
    assert stack.clock.sleep_until(stack.clock.start + timedelta(minutes=MINUTES, seconds=1))
    args = build_parser().parse_args(
        [
            *("uptime", "--config", str(config), "--stack", stack.stack_name),
            *("--endpoint-url", stack.endpoint, "--window", "24h", "--json"),
        ]
    )
    out, err = io.StringIO(), io.StringIO()
    assert uptime_cli.run(args, out=out, err=err) == 0, err.getvalue()
    (line,) = [json.loads(x) for x in out.getvalue().splitlines()]
    assert line["minutes_probed"] == MINUTES
    assert line["downtime_minutes"] == OUTAGE[1] - OUTAGE[0]
    assert line["uptime_pct"] == round(100 * (MINUTES - 4) / MINUTES, 4)
    assert line["gap_minutes"] == 24 * 60 - MINUTES
    (incident,) = stack.incidents()
    assert line["incidents"] == 1
    assert line["mttr_s"] == round((incident.resolved_at - incident.opened_at).total_seconds())
    assert line["sla_met"] is False and line["error_budget_minutes"] == round(MINUTES * 0.001 - 4, 1)
