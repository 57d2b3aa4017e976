"""GraphiQL works with no CDN: its assets come from the API, with their integrity hashes,
and a real browser runs the seed's query in it.

The browser is the system's Chromium (Debian's `chromium`), driven by Playwright
over the DevTools protocol; nothing downloads a browser. Without one, the
browser test is skipped and says how to get it.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil

import pytest

from tests.api.catalog_client import create_category, create_product, unique
from tests.e2e.test_subscription import served

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


async def graphiql_page(system) -> str:
    page = await system.http.get("/graphiql", headers={"accept": "text/html"})
    assert page.status_code == 200
    html: str = page.text
    return html


async def test_every_asset_is_ours_and_matches_its_integrity_hash(system):
    html = await graphiql_page(system)
    assert "unpkg.com" not in html
    assets = re.findall(r'(?:src|href)="(/graphiql-assets/[^"]+)"\s+integrity="([^"]+)"', html)
    assert len(assets) == 7
    for path, integrity in assets:
        served_file = await system.http.get(path)
        assert served_file.status_code == 200, path
        digest = base64.b64encode(hashlib.sha384(served_file.content).digest()).decode()
        assert f"sha384-{digest}" == integrity, path


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium on this machine: `apt-get install -y chromium` (Debian) lets this "
    "test run GraphiQL in a real browser",
)
async def test_graphiql_runs_the_seeds_query_in_a_real_browser(system):
    from playwright.async_api import async_playwright

    category = await create_category(system.gql)
    name = unique("Browser lamp")
    await create_product(system.gql, category["id"], name=name)
    # One category's products: the result pane renders only the lines in view.
    query = '{ products(categoryId: "%s") { name category { name } } }' % category["id"]

    async with served(system.app) as port, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = await browser.new_page()
            await page.goto(f"http://127.0.0.1:{port}/graphiql")
            editor = page.locator(".graphiql-query-editor .CodeMirror")
            await editor.wait_for(timeout=30_000)
            await editor.click()
            await page.keyboard.press("Control+A")
            await page.keyboard.press("Delete")
            await page.keyboard.insert_text(query)
            await page.locator("button.graphiql-execute-button").click()
            result = page.locator(".result-window")
            await result.get_by_text(name).wait_for(timeout=30_000)
            assert '"errors"' not in await result.inner_text()
        finally:
            await browser.close()
