"""Shoots and weighs the admin under the plain theme and under django-unfold, then prints one table of both.

    .venv/bin/pip install django-unfold       # into the virtualenv only; never requirements.txt
    .venv/bin/python -m tools.admin_theme.compare /tmp/admin-theme

OUT/plain/ and OUT/unfold/ get a JPEG per page and width and a report.json; the operations guide's section
"Admin theme: plain admin or django-unfold" gives what they showed.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
THEMES = {"plain": "postbacks_project.settings", "unfold": "tools.admin_theme.unfold_settings"}


def run(theme, out):
    env = {**os.environ, "ADMIN_THEME_OUT": str(out / theme)}
    command = [sys.executable, "-m", "pytest", str(HERE / "shoot.py"), "-q", "-p", "no:cacheprovider"]
    subprocess.run([*command, "--ds", THEMES[theme]], cwd=ROOT, env=env, check=True)
    return json.loads((out / theme / "report.json").read_text())


def kb(n):
    return f"{n / 1024:.0f}"


def main(argv):
    if len(argv) != 1:
        sys.exit(__doc__)
    if importlib.util.find_spec("unfold") is None:
        sys.exit("django-unfold is not installed: .venv/bin/pip install django-unfold (the virtualenv only)")
    out = Path(argv[0]).resolve()
    reports = {theme: run(theme, out) for theme in THEMES}
    print("| page | theme | CSS KB (gzip) | JS KB (gzip) | page wider than window, px | hidden in sideways boxes, px |")
    print("| --- | --- | --- | --- | --- | --- |")
    for page in reports["plain"]:
        for theme, report in reports.items():
            e = report[page]
            hidden = sum(px for _, px in e["sideways"])
            css = f"{kb(e['css'])} ({kb(e['css_gzip'])})"
            js = f"{kb(e['js'])} ({kb(e['js_gzip'])})"
            print(f"| {page} | {theme} | {css} | {js} | {max(e['overflow'], 0)} | {hidden} |")
    for page in ("deliveries-1366", "received-postbacks-1366"):
        for theme, report in reports.items():
            print(f"{page} {theme}: key columns end at {report[page]['key_column_right_edges']} px")


if __name__ == "__main__":
    main(sys.argv[1:])
