"""The results dashboard in a real browser (Debian's chromium driven by selenium through chromedriver), on the
local emulator (or the E2E_STACK_NAME stack's CloudFront URL) after real uploads: what a person sees must be
what the HTTP API says.

Set DASHBOARD_SCREENSHOT=docs/img/dashboard.png to save the README's screenshot while the tests run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from local.dashboard import MODEL_ARTIFACT_DIR, URL_PREFIX, referenced_images
from local.stack import LocalStack
from local.template import PROJECT_ROOT
from tests.e2e.conftest import Api
from tests.e2e.targets import E2ETarget

pytestmark = pytest.mark.e2e
SAMPLES = PROJECT_ROOT / "samples"
Upload = Callable[[str, bytes | Path], str]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
WAIT_SECONDS = 30


def _browser_or_fail() -> None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found: the dashboard test drives a real browser. Install it with "
            "`apt-get install -y chromium chromium-driver` (.ci/run does), or set CHROMIUM/CHROMEDRIVER.",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    _browser_or_fail()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1800",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(argument)
    # The browser's console (script errors, CSP violations) and its network events (request headers).
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    with pytest.MonkeyPatch.context() as patch:
        # Both paths are given, so selenium manager has nothing to look for; offline, it could not download.
        patch.setenv("SE_OFFLINE", "true")
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def jobs(api: Api, target: E2ETarget, target_s3: Any) -> dict[str, dict[str, Any]]:
    """Two finished jobs: 200 clean reviews, and 20 rows of which 5 are rejected for their reasons."""
    uploads = {"clean": "imdb_reviews.jsonl", "imperfect": "imperfect_reviews.jsonl"}
    keys = {}
    for name, sample in uploads.items():
        key = f"{target.upload_prefix}dashboard/{sample}"
        target_s3.put_object(Bucket=target.bucket, Key=key, Body=(SAMPLES / sample).read_bytes())
        keys[name] = key
    return {name: api.final_job(key) for name, key in keys.items()}


def wait_for(browser: WebDriver, condition: Callable[[WebDriver], Any], what: str) -> Any:
    # The job list re-renders itself while a job runs: an element read mid-render is simply read again.
    wait = WebDriverWait(
        browser, WAIT_SECONDS, poll_frequency=0.2, ignored_exceptions=[StaleElementReferenceException]
    )
    return wait.until(condition, message=what)


# One snapshot of the job table, read in a single script call so a re-render cannot interleave.
_JOB_ROWS_SCRIPT = """
return [...document.querySelectorAll('#jobs tbody tr[data-job-id]')].map((row) => Object.fromEntries([
  ['job_id', row.dataset.jobId],
  ...[...row.querySelectorAll('[data-field]')].map((cell) => [cell.dataset.field, cell.innerText.trim()]),
]));
"""


def shown_jobs(browser: WebDriver) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = browser.execute_script(_JOB_ROWS_SCRIPT)
    return rows


def ready(browser: WebDriver, element_id: str) -> WebElement | None:
    element = browser.find_element(By.ID, element_id)
    return element if element.get_attribute("data-state") == "ready" else None


@pytest.fixture(scope="module")
def dashboard_url(request: pytest.FixtureRequest, target: E2ETarget) -> str:
    """The emulator's `dashboard_url` (stack.json); on a deployed stack, /dashboard/ of its CloudFront URL."""
    if target.is_local:
        emulator: LocalStack = request.getfixturevalue("stack")
        assert emulator.info is not None
        return emulator.info.dashboard_url
    return f"{target.api_url}{URL_PREFIX}"


@pytest.fixture
def page(browser: WebDriver, dashboard_url: str, jobs: dict[str, dict[str, Any]]) -> WebDriver:
    """The dashboard freshly opened, its job list shown."""
    browser.get(dashboard_url)
    wait_for(browser, lambda b: ready(b, "jobs"), "the job list")
    return browser


def open_job(browser: WebDriver, job_id: str) -> None:
    wait_for(
        browser,
        lambda b: b.find_element(By.CSS_SELECTOR, f'#jobs tr[data-job-id="{job_id}"]').click() or True,
        f"a click on job {job_id}",
    )
    wait_for(
        browser,
        lambda b: ready(b, "job-section") and b.find_element(By.ID, "job-facts").text.find(job_id) >= 0,
        f"job {job_id}'s details",
    )


def field(element: WebElement, name: str) -> str:
    return element.find_element(By.CSS_SELECTOR, f'[data-field="{name}"]').text


def shown_results(browser: WebDriver) -> list[tuple[int, str, str]]:
    wait_for(browser, lambda b: ready(b, "results"), "the results table")
    rows = browser.find_elements(By.CSS_SELECTOR, "#results tbody tr[data-row]")
    return [(int(field(row, "row")), field(row, "label"), field(row, "score")) for row in rows]


def select(browser: WebDriver, element_id: str, value: str) -> None:
    Select(browser.find_element(By.ID, element_id)).select_by_value(value)
    wait_for(browser, lambda b: ready(b, "results"), f"results after choosing {element_id}={value}")


def first_markdown_table(path: Path) -> list[list[str]]:
    """The cells of a Markdown file's first table, as text (backticks and bold markers dropped)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        if not re.fullmatch(r"[|\s:-]+", line):
            table.append([re.sub(r"`|\*\*", "", cell).strip() for cell in line.strip().strip("|").split("|")])
    return table


def severe_console_entries(browser: WebDriver) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


# ---------------------------------------------------------------------------------------------------- tests
def test_the_job_list_shows_every_job_with_the_apis_status_counts_and_share(
    page: WebDriver, api: Api, jobs: dict[str, dict[str, Any]]
) -> None:
    # Given the jobs the API lists and the page's job list (refreshed until any job that changed in between
    # reads the same in both)
    def same_jobs(browser: WebDriver) -> tuple[list[dict[str, Any]], list[dict[str, str]]] | None:
        listed: list[dict[str, Any]] = api.get("/jobs", limit=100)["items"]
        shown = shown_jobs(browser)
        if [row["job_id"] for row in shown] == [job["job_id"] for job in listed] and all(
            row["status"] == job["status"] for row, job in zip(shown, listed, strict=True)
        ):
            return listed, shown
        browser.find_element(By.ID, "jobs-refresh").click()
        return None

    listed, shown = wait_for(page, same_jobs, "the API's jobs, in its order, with its statuses")
    # Then each of our jobs reads as the API says: file, status, counts, positive share, progress, times
    rows = {row["job_id"]: row for row in shown}
    for job in jobs.values():
        row, counts = rows[job["job_id"]], job["counts"]
        done = counts["classified"] + counts["rejected"]
        expected = {
            "source_key": job["source_key"],
            "status": job["status"],
            **{
                name: str(counts[name])
                for name in ("total", "classified", "rejected", "positive", "negative")
            },
            "positive_share": f"{counts['positive'] / counts['classified'] * 100:.1f}%",
            "progress": f"{done} / {counts['total']}",
            "uploaded_at": job["uploaded_at"][:19].replace("T", " "),
            "finished_at": job["finished_at"][:19].replace("T", " "),
        }
        assert {name: row[name] for name in expected} == expected
    assert page.find_element(By.ID, "jobs-summary").text.startswith(f"{len(listed)} jobs")
    assert severe_console_entries(page) == []


def test_a_jobs_charts_and_result_pages_match_the_api(
    page: WebDriver, api: Api, jobs: dict[str, dict[str, Any]]
) -> None:
    # Given the clean job's 200 results from the API
    job = jobs["clean"]
    results, _ = api.all_pages(f"/jobs/{job['job_id']}/reviews", limit=100)
    # When a person opens the job
    open_job(page, job["job_id"])
    # Then the split bar shows the job's positive and negative counts
    split = {
        bar.get_attribute("data-sentiment"): int(bar.get_attribute("data-count") or -1)
        for bar in page.find_elements(By.CSS_SELECTOR, "#split rect")
    }
    assert split == {"positive": job["counts"]["positive"], "negative": job["counts"]["negative"]}
    # And below it, how often the model's label is the file's own, over the 200 labelled results
    agreed = sum(r["label"] == r["given_label"] for r in results)
    assert all(r["given_label"] for r in results)
    assert page.find_element(By.ID, "agreement").text == (
        f"The file's own labels: the model agrees on {agreed} of 200 ({agreed / 2:.1f}%)"
    )
    # And the histogram's ten bars count every score in its tenth of [0, 1]
    bars = [
        int(b.get_attribute("data-count") or -1)
        for b in page.find_elements(By.CSS_SELECTOR, "#histogram rect")
    ]
    expected = [0] * 10
    for result in results:
        expected[min(9, int(result["score"] * 10))] += 1
    assert bars == expected
    assert page.find_element(By.ID, "histogram-note").text == "(200 results)"
    # And the first page shows the API's first 20 results, and Next shows the next 20
    first_page = shown_results(page)
    assert [(row, label) for row, label, _ in first_page] == [(r["row"], r["label"]) for r in results[:20]]
    assert [score for _, _, score in first_page] == [f"{r['score']:.3f}" for r in results[:20]]
    # And each row says whether the model flagged its score uncertain, as the API does
    flags = [
        field(row, "uncertain") for row in page.find_elements(By.CSS_SELECTOR, "#results tbody tr[data-row]")
    ]
    assert flags == [{True: "uncertain", False: "no", None: "-"}[r["uncertain"]] for r in results[:20]]
    # And the label the file gave each review beside the model's (the clean sample labels every review)
    given = [
        field(row, "given_label")
        for row in page.find_elements(By.CSS_SELECTOR, "#results tbody tr[data-row]")
    ]
    assert given == [r["given_label"] for r in results[:20]]
    assert set(given) == {"positive", "negative"}
    page.find_element(By.ID, "page-next").click()
    wait_for(page, lambda b: b.find_element(By.ID, "page-label").text.startswith("page 2"), "page 2")
    assert [row for row, _, _ in shown_results(page)] == [r["row"] for r in results[20:40]]
    assert page.find_element(By.ID, "page-label").text == "page 2: rows 21-40"
    assert severe_console_entries(page) == []


def test_the_sentiment_filter_shows_exactly_the_jobs_reviews_of_that_sentiment(
    page: WebDriver, jobs: dict[str, dict[str, Any]]
) -> None:
    # Given the clean job open, 50 results a page
    job = jobs["clean"]
    open_job(page, job["job_id"])
    select(page, "page-size", "50")
    for sentiment in ("negative", "positive"):
        # When a person filters on one sentiment and pages to the end
        select(page, "sentiment", sentiment)
        seen: list[tuple[int, str, str]] = []
        while True:
            seen.extend(shown_results(page))
            following = page.find_element(By.ID, "page-next")
            if not following.is_enabled():
                break
            label = page.find_element(By.ID, "page-label").text
            following.click()
            wait_for(
                page,
                lambda b, before=label: b.find_element(By.ID, "page-label").text != before,
                "the next page",
            )
        # Then every row shown has that label, each once, as many as the job counts
        assert {label for _, label, _ in seen} == {sentiment}
        assert len({row for row, _, _ in seen}) == len(seen) == job["counts"][sentiment]


def test_rejected_rows_are_grouped_by_the_reasons_the_api_gives(
    page: WebDriver, api: Api, jobs: dict[str, dict[str, Any]]
) -> None:
    # Given the imperfect job's rejected rows from the API
    job = jobs["imperfect"]
    rejected, _ = api.all_pages(f"/jobs/{job['job_id']}/rejected", limit=100)
    expected: dict[str, list[int]] = {}
    for item in rejected:
        expected.setdefault(item["reason"], []).append(item["row"])
    # When a person opens the job
    open_job(page, job["job_id"])
    # Then each reason is shown once with its number of rows and the rows themselves
    shown = {
        field(row, "reason"): (int(field(row, "rows")), field(row, "examples"))
        for row in page.find_elements(By.CSS_SELECTOR, "#rejected tbody tr[data-reason]")
    }
    assert shown == {reason: (len(rows), ", ".join(map(str, rows))) for reason, rows in expected.items()}
    assert sum(count for count, _ in shown.values()) == job["counts"]["rejected"] == 5
    # And the results table holds only the 15 classified rows; the file labelled none of them
    assert len(shown_results(page)) == 15
    assert page.find_element(By.ID, "agreement").text == ""


def test_export_offers_a_link_to_every_row_of_the_job(
    page: WebDriver, jobs: dict[str, dict[str, Any]]
) -> None:
    # Given the imperfect job open (20 rows: 15 results, 5 rejected)
    job = jobs["imperfect"]
    open_job(page, job["job_id"])

    # When a person asks for its CSV export (again while it is still being written, seconds after the end)
    def export_link(browser: WebDriver) -> WebElement | None:
        found = browser.find_elements(By.ID, "export-link")
        if found:
            return found[0]
        if ready(browser, "export") or not browser.find_element(By.ID, "export").text:
            browser.find_element(By.ID, "export-csv").click()
        return None

    link = wait_for(page, export_link, "the export link")
    # Then the link names every row, and what it downloads is the job's every row, rejected ones with a reason
    assert link.get_attribute("data-rows") == str(job["counts"]["total"]) == "20"
    assert link.text == "Download results.csv (20 rows)"
    download = requests.get(link.get_attribute("href") or "", timeout=30)
    assert download.status_code == 200
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [int(row["row"]) for row in rows] == list(range(1, 21))
    assert sum(1 for row in rows if row["reason"]) == job["counts"]["rejected"]


def test_explaining_a_result_shows_the_apis_explanation(
    page: WebDriver, api: Api, jobs: dict[str, dict[str, Any]]
) -> None:
    # Given the clean job open, ten results a page
    job = jobs["clean"]
    open_job(page, job["job_id"])
    select(page, "page-size", "10")
    first = page.find_element(By.CSS_SELECTOR, "#results tbody tr[data-row]")
    row = int(first.get_attribute("data-row") or 0)
    # When a person asks why its first result got its label
    first.find_element(By.TAG_NAME, "button").click()
    panel = wait_for(
        page,
        lambda b: (p := b.find_element(By.ID, "explanation")).get_attribute("data-row") == str(row) and p,
        "the explanation",
    )
    # Then the panel lists the API's n-grams toward each side, strongest first
    answer = api.get(f"/jobs/{job['job_id']}/reviews/{row}/explanation")
    shown = [
        item.get_attribute("data-ngram") for item in panel.find_elements(By.CSS_SELECTOR, "li[data-ngram]")
    ]
    expected = [e["ngram"] for e in answer["explanation"]["positive"] + answer["explanation"]["negative"]]
    assert shown == expected
    assert f"{answer['label']}, score {answer['score']:.3f}" in panel.text
    screenshot = os.environ.get("DASHBOARD_SCREENSHOT")
    if screenshot:
        page.execute_script("window.scrollTo(0, 0)")
        page.save_screenshot(str(PROJECT_ROOT / screenshot))


def test_the_model_card_and_its_reliability_diagram_are_shown(page: WebDriver) -> None:
    # Given the shipped model's card
    card = json.loads((MODEL_ARTIFACT_DIR / "model_card.json").read_text(encoding="utf-8"))
    images = referenced_images(MODEL_ARTIFACT_DIR / "model_card.md") or referenced_images(
        MODEL_ARTIFACT_DIR / "evaluation.md"
    )
    # When the dashboard has loaded it
    section = wait_for(page, lambda b: ready(b, "model-card"), "the model card")
    # Then it names the model version and shows the card's metrics table
    assert field(section, "model version") == card["model_version"]
    # And its first table (the metrics) cell for cell as the Markdown writes it
    rendered = page.execute_script(
        "return [...arguments[0].querySelector('table').rows]"
        ".map((row) => [...row.cells].map((cell) => cell.innerText))",
        section,
    )
    assert rendered == first_markdown_table(MODEL_ARTIFACT_DIR / "model_card.md")
    # And its figures (the reliability diagram first) are the images the report references, each loaded by the
    # browser from the dashboard's own files
    shown = section.find_elements(By.TAG_NAME, "img")
    assert [image.get_attribute("src").rsplit("/dashboard/model/", 1)[1] for image in shown] == images
    assert "reliability" in images[0]
    for image in shown:
        wait_for(page, lambda b, i=image: b.execute_script("return arguments[0].complete", i), "a figure")
        assert page.execute_script("return arguments[0].naturalWidth", image) > 0
    assert severe_console_entries(page) == []


def test_a_token_is_kept_for_the_tab_and_sent_as_a_bearer_header(page: WebDriver) -> None:
    # Given a person pastes a token
    page.get_log("performance")  # drop the network events so far
    page.find_element(By.ID, "token").send_keys("header.payload.signature")
    page.find_element(By.CSS_SELECTOR, "#token-form button[type=submit]").click()
    wait_for(page, lambda b: "token set" in b.find_element(By.ID, "token-state").text, "the token")
    # When the page asks the API for the jobs (it does so right away, and again after a reload)
    page.refresh()
    wait_for(page, lambda b: ready(b, "jobs"), "the job list after a reload")
    # Then the requests to the API carried it as a bearer token, and the field does not show it
    sent = [
        message["params"]["request"]
        for entry in page.get_log("performance")
        if (message := json.loads(entry["message"])["message"])["method"] == "Network.requestWillBeSent"
    ]
    to_jobs = [request for request in sent if re.search(r"/jobs(\?|$)", request["url"])]
    assert len(to_jobs) >= 2
    assert all(
        request["headers"].get("Authorization") == "Bearer header.payload.signature" for request in to_jobs
    )
    assert page.find_element(By.ID, "token").get_attribute("value") == ""
    assert "token set" in page.find_element(By.ID, "token-state").text
    # And forgetting it stops sending it
    page.find_element(By.ID, "token-clear").click()
    assert page.execute_script("return sessionStorage.length") == 0


def test_markdown_in_a_model_card_cannot_inject_markup_or_script_links(page: WebDriver) -> None:
    # Given a card whose text holds HTML, an event handler and a javascript: link
    hostile = (
        "# <b>title</b>\n\n<img src=x onerror=alert(1)> **bold** [link](javascript:alert(1))"
        " ![pic](diagram.png)\n\n| a | b |\n| --- | --- |\n| <i>x</i> | `y` |\n"
    )
    # When the page's own renderer builds it
    rendered = page.execute_async_script(
        """
        const [text, done] = arguments;
        import("./markdown.js").then(({ renderMarkdown }) => {
          const box = document.createElement("div");
          box.append(...renderMarkdown(text, new URL("model/", location.href)));
          done({ html: box.innerHTML, text: box.textContent,
                 handlers: box.querySelectorAll("[onerror]").length,
                 images: [...box.querySelectorAll("img")].map((i) => i.src),
                 links: [...box.querySelectorAll("a")].map((a) => a.href) });
        });
        """,
        hostile,
    )
    # Then HTML stays text, the javascript: link is dropped, and the image resolves beside the card
    assert "<b>" not in rendered["html"]
    assert "<i>" not in rendered["html"]
    assert rendered["handlers"] == 0
    assert "<img src=x onerror=alert(1)>" in rendered["text"]
    assert rendered["links"] == []
    assert [image.rsplit("/dashboard/", 1)[1] for image in rendered["images"]] == ["model/diagram.png"]
    assert "<strong>bold</strong>" in rendered["html"]
    assert "<code>y</code>" in rendered["html"]
