"""Screenshots for notes and reviews: with DIGITSX_SCREENSHOTS=DIR set, ``shot(page, name)`` saves
the whole page as DIR/<name>.png; without it, it does nothing (the tests check the page, the
pictures are for people)."""
from __future__ import annotations

import os
import re


def shot(page, name: str) -> None:
    folder = os.environ.get("DIGITSX_SCREENSHOTS")
    if not folder or page.is_closed():
        return
    os.makedirs(folder, exist_ok=True)
    page.screenshot(path=os.path.join(folder, re.sub(r"[^\w.-]+", "_", name) + ".png"), full_page=True)
