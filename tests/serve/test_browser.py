"""The page in a real browser: Debian's chromium driven by Playwright, against `trainlab serve`.

Screenshots are saved under test-output/serve/ in the repository (printed when the test runs).
"""
import os
import shutil
from pathlib import Path

import httpx
import pytest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "serve"


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it "
                    "where apt can)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        # As root (CI, containers) chromium refuses to start without --no-sandbox.
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = playwright.chromium.launch(executable_path=chromium, args=args)
        yield browser
        browser.close()


def drop_files(page, selector, files):
    """Drag-and-drop of real files onto `selector`, as a person dropping them from a folder."""
    payload = [{"name": f.name, "bytes": list(f.read_bytes()),
                "type": "image/png" if f.suffix == ".png" else "text/plain"} for f in files]
    transfer = page.evaluate_handle("""(files) => {
        const transfer = new DataTransfer();
        for (const f of files)
            transfer.items.add(new File([new Uint8Array(f.bytes)], f.name, {type: f.type}));
        return transfer; }""", payload)
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def test_upload_in_the_page_shows_the_predicted_classes(browser, server, served_run, tmp_path,
                                                        capsys):
    _, pets = served_run
    fox, dog = pets / "fox" / "3.png", pets / "dog" / "7.png"
    expected = {path.name: httpx.post(server.url + "/api/predict", files={
        "files": (path.name, path.read_bytes())}).json()[0]["top_k"] for path in (fox, dog)}
    (tmp_path / "notes.txt").write_text("not a picture\n")

    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(server.url + "/")
    page.wait_for_selector("#card dl")  # the model card has loaded
    assert "test accuracy" in page.inner_text("#card")
    assert page.locator("#card figure img").count() == 3  # curves and both confusion matrices

    page.set_input_files("#file-input", [str(fox), str(tmp_path / "notes.txt")])
    drop_files(page, "#drop", [dog])
    page.wait_for_function("document.querySelectorAll('.result .bars, .result .error').length == 3")
    results = {page.locator(".result .file").nth(i).inner_text(): page.locator(".result").nth(i)
               for i in range(3)}
    for name, top_k in expected.items():
        bars = results[name].locator(".bar")
        assert bars.count() == 2  # the server's --top-k 2
        assert bars.first.locator(".label").inner_text() == top_k[0]["label"]
        assert bars.first.locator(".pct").inner_text() == f"{100 * top_k[0]['probability']:.1f}%"
    assert results["notes.txt"].locator(".error").inner_text().startswith(
        "notes.txt: not an image that Pillow can read")

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "page.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sideways
    page.screenshot(path=SCREENSHOTS / "page-phone.png", full_page=True)
    page.close()
    with capsys.disabled():
        print(f"\nscreenshots of the page: {SCREENSHOTS / 'page.png'}, "
              f"{SCREENSHOTS / 'page-phone.png'}")


def test_the_page_asks_for_the_api_key_and_then_works(browser, keyed_server, served_run):
    page = browser.new_page()
    page.goto(keyed_server.url + "/")
    page.wait_for_selector("#card .error")
    assert "missing or wrong API key" in page.inner_text("#card")
    page.fill("#api-key", "s3cret-key")
    page.click("#key-form button")
    page.wait_for_selector("#card dl")
    page.set_input_files("#file-input", str(served_run[1] / "cat" / "2.png"))
    page.wait_for_selector(".result .bar")
    page.close()
