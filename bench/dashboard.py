"""The dashboard's and the API docs' transfer size: each page with every file it loads, raw and gzipped.

What a first visit downloads (the files are immutable and cached for a year after it). Read from the web
function's own pages and assets (attract.web), i.e. what GET /dashboard and GET /docs serve.
"""

import gzip
import re
import sys

from attract.web import Assets, asset_answer
from attract_local.cfn import ROOT
from attract_local.openapi import template_environment


def _pages() -> tuple[Assets, dict[str, str]]:
    sys.path.insert(0, str(ROOT / "functions/web"))  # the function's folder, as the Lambda runtime's task root
    with template_environment("WebFunction"):
        import app  # type: ignore[import-not-found]
    return app.ASSETS, {"/dashboard": app.DASHBOARD, "/docs": app.DOCS}


def main() -> None:
    assets, pages = _pages()
    print("== Dashboard and docs transfer size (a first visit: the page and every file it loads)\n")
    print(f"   {'page / file':<52}{'raw':>12}{'gzip':>12}")
    for path, page in pages.items():
        page_raw = len(page.encode())
        page_gzip = len(gzip.compress(page.encode(), 9))
        total_raw, total_gzip = page_raw, page_gzip
        print(f"   {path:<52}{page_raw:>12,}{page_gzip:>12,}")
        # What the browser loads by itself: scripts, stylesheets, the icon (not the licence links).
        for url in re.findall(r'(?:<script src="|<link [^>]*href=")(/static/[^"]+)"', page):
            name = url.removeprefix("/static/")
            raw = len(asset_answer(assets, name, None).body)
            sent = len(asset_answer(assets, name, "gzip").body)
            total_raw, total_gzip = total_raw + raw, total_gzip + sent
            print(f"     {name:<50}{raw:>12,}{sent:>12,}")
        print(f"   {'total ' + path:<52}{total_raw:>12,}{total_gzip:>12,}\n")


if __name__ == "__main__":
    main()
