"""Fill empty msgstr entries of a .po file from JSON objects {msgid: translation}.

Used when new English strings arrive: `make messages`, write the Chinese for the new msgids
into a JSON file, run this, then `make messages` again to compile. Entries that already have
a translation are left alone unless --overwrite is given.
"""

from __future__ import annotations

import argparse
import json

import polib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("po")
    parser.add_argument("translations", nargs="*", help="JSON files of {msgid: translation}")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    table: dict[str, str] = {}
    for path in args.translations:
        with open(path, encoding="utf-8") as fh:
            table.update(json.load(fh))
    po = polib.pofile(args.po)
    filled = 0
    for entry in po:
        stale = not entry.msgstr or "fuzzy" in entry.flags
        if entry.msgid in table and (args.overwrite or stale):
            entry.msgstr = table[entry.msgid]
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
            filled += 1
    po.save()
    missing = [e.msgid for e in po if not e.msgstr and not e.obsolete]
    print(f"filled={filled} untranslated={len(missing)}")
    for msgid in missing:
        print(f"  untranslated: {msgid!r}")


if __name__ == "__main__":
    main()
