"""Fail when a translation in the .po file is missing from the committed .mo file.

`make run` must work without the gettext tools, so the compiled catalogue is committed;
this catches a .po edited without `make messages`.
"""

from __future__ import annotations

import gettext
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    problems = 0
    for po_path in sorted(ROOT.glob("locale/*/LC_MESSAGES/django.po")):
        mo_path = po_path.with_suffix(".mo")
        if not mo_path.exists():
            print(f"{mo_path.relative_to(ROOT)} is missing: run `make messages`")
            problems += 1
            continue
        with mo_path.open("rb") as fh:
            catalog = gettext.GNUTranslations(fh)
        po = polib.pofile(str(po_path))
        for entry in po:
            if entry.obsolete or entry.msgid_plural or not entry.msgstr or "fuzzy" in entry.flags:
                continue
            key = entry.msgid if not entry.msgctxt else f"{entry.msgctxt}\x04{entry.msgid}"
            if catalog._catalog.get(key) != entry.msgstr:  # type: ignore[attr-defined]
                print(f"not compiled: {entry.msgid!r} in {po_path.relative_to(ROOT)}")
                problems += 1
        untranslated = [
            e.msgid
            for e in po
            if not e.obsolete
            and not (
                e.msgstr_plural and all(e.msgstr_plural.values()) if e.msgid_plural else e.msgstr
            )
        ]
        for msgid in untranslated:
            print(f"untranslated: {msgid!r}")
        problems += len(untranslated)
    print("translations ok" if not problems else f"{problems} translation problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
