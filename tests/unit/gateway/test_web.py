"""The storefront and /docs pages: served, offline, and fit for a 'self'-only CSP."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway import create_app

STATIC = Path(__file__).resolve().parents[3] / "gateway" / "static"
IMPORT = re.compile(r"""^import .* from "(\.[^"]+)";$""", re.MULTILINE)


@pytest.mark.parametrize("path", ["/", "/docs"])
def test_pages_are_html_without_inline_script_or_style(client, path):
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.mimetype == "text/html"
    html = answer.get_data(as_text=True)
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and all('src="/static/' in tag for tag in scripts), scripts
    assert "<style" not in html and not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers either
    assert not re.search(r"""(src|href)="(https?:)?//""", html)  # nothing from elsewhere
    assert '<main id="main"' in html and 'lang="en"' in html


def test_storefront_offers_every_test_card(client):
    html = client.get("/").get_data(as_text=True)
    for token in ("tok_ok", "tok_declined", "tok_insufficient_funds", "tok_flaky", "tok_slow"):
        assert f'value="{token}"' in html and f'for="pay-{token}"' in html


@pytest.mark.parametrize("path", ["/", "/docs"])
def test_pages_name_the_shop_of_shop_name(config, rpc, broker, hub, path):
    default = create_app(config, rpc=rpc, broker_check=broker, stream_hub=hub)
    assert "Leaf &amp; Bean</a>" in default.test_client().get(path).get_data(as_text=True)
    mine = create_app({**config, "SHOP_NAME": "Kettle <&> Co"}, rpc=rpc, broker_check=broker,
                      stream_hub=hub)
    html = mine.test_client().get(path).get_data(as_text=True)
    assert "Kettle &lt;&amp;&gt; Co</a>" in html  # the header, escaped
    assert re.search(r"<title>[^<]*Kettle &lt;&amp;&gt; Co[^<]*</title>", html)
    assert '<meta name="application-name" content="Kettle &lt;&amp;&gt; Co">' in html
    assert "Leaf" not in html


@pytest.mark.parametrize("asset", ["js/app.js", "js/docs.js", "css/app.css", "favicon.svg"])
def test_static_files_are_served(client, asset):
    answer = client.get(f"/static/{asset}")
    assert answer.status_code == 200
    assert answer.data


def test_scripts_import_only_files_that_exist_and_never_write_markup():
    scripts = sorted(STATIC.rglob("*.js"))
    assert len(scripts) >= 10
    for script in scripts:
        source = script.read_text()
        for target in IMPORT.findall(source):
            assert (script.parent / target).resolve().is_file(), (script, target)
        # Text from the API goes into text nodes only (dom.h), never into markup, and
        # styles come from app.css only.
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                       ".style.", "eval(", "http://", "https://"):
            assert banned not in source, (script.name, banned)
