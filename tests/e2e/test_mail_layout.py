"""The mails hold on a 390 px phone: every kind, opened in Chromium at 390 px wide, is
no wider than the screen (nothing to scroll sideways, no element past the edge), and
the out-of-stock cancel mail and the shipped mail are kept as screenshots
(docs/screenshots/mail-390.png, mail-shipped-390.png). No cluster needed: the HTML
comes from notify_svc's templates (tests/e2e/mail_layout.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from common.config import ROOT
from notify_svc import domain
from tests.e2e.test_browser import SHOTS, chromium  # noqa: F401  (the autouse check)

pytestmark = pytest.mark.e2e

PHONE_PX = 390


def test_every_mail_fits_a_390px_phone():
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e.mail_layout",
         json.dumps({"shots": SHOTS, "width": PHONE_PX})],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    widths = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(widths) == set(domain.KINDS)
    too_wide = {kind: w for kind, w in widths.items()
                if w["scroll_width"] > PHONE_PX or w["widest"] > PHONE_PX}
    assert not too_wide, too_wide
    for name in ("mail-390.png", "mail-shipped-390.png"):
        assert (Path(SHOTS) / name).stat().st_size > 10_000, name
