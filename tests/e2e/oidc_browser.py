"""The "Sign in with Google" button in a real browser, run in a process of its own.

    python -m tests.e2e.oidc_browser '{"url": ..., "shots": ..., "name": ...}'

(A plain interpreter, as tests/e2e/browser_flows.py explains: Playwright does not stop
under eventlet.) The login page shows the button; a click goes to the provider
(tests/e2e/oidc_provider.py, which consents at once), back through the callback to
`#/oidc`, and the storefront ends signed in as the provider's user, the one-time code
gone from the address bar. A failed sign-in's reason is said in plain words.
"""

from __future__ import annotations

import json
import re
import sys
import traceback

from playwright.sync_api import expect, sync_playwright

from tests.e2e.browser_flows import CHROMIUM, CHROMIUM_ARGS, VIEWPORTS

WAIT_MS = 30_000


def flow(page, shots: str, name: str) -> dict:
    page.goto("/#/login")
    button = page.get_by_role("link", name="Sign in with Google")
    expect(button).to_be_visible(timeout=WAIT_MS)
    page.screenshot(path=f"{shots}/oidc-login.png")
    page.goto("/#/login?error=email_unverified")
    expect(page.locator("#oidc-error")).to_contain_text(
        "has not verified your email address", timeout=WAIT_MS)
    page.goto("/#/login?error=<b>call+us+now</b>")  # never the URL's own words
    expect(page.locator("#oidc-error")).to_contain_text("could not be accepted")
    expect(page.locator("#oidc-error")).not_to_contain_text("call us")
    page.get_by_role("link", name="Sign in with Google").click()
    expect(page.locator("#who")).to_have_text(name, timeout=WAIT_MS)
    expect(page).to_have_url(re.compile(r"#/$"), timeout=WAIT_MS)
    return {"url": page.url}


def main(args: dict) -> dict:
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(base_url=args["url"],
                                   viewport=VIEWPORTS["desktop"]).new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        try:
            result = flow(page, args["shots"], args["name"])
        except BaseException:
            page.screenshot(path=f"{args['shots']}/oidc-login-failure.png")
            raise
        finally:
            browser.close()
    assert not problems, problems
    return result


if __name__ == "__main__":
    try:
        print(json.dumps(main(json.loads(sys.argv[1]))))
    except BaseException:
        traceback.print_exc()
        sys.exit(1)
