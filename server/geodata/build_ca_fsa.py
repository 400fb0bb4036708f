"""Build ``ca_fsa.csv``, the packaged Canadian FSA centroid table, from the pypostalcode wheel.

Not imported by the product: run by hand when the source changes, and commit the CSV.

    pip download --no-deps pypostalcode==0.4.1 -d /tmp/pkgs
    unzip -o /tmp/pkgs/pypostalcode-0.4.1-py3-none-any.whl 'pypostalcode/postalcodes.db' -d /tmp/pkgs
    .venv/bin/python -m server.geodata.build_ca_fsa /tmp/pkgs/pypostalcode/postalcodes.db > server/geodata/ca_fsa.csv

Source: pypostalcode 0.4.1 (MIT), whose FSA table comes from Statistics Canada's Forward Sortation
Area boundary file (2011 census, catalogue 92-179-X) and GeoNames (CC BY 4.0); "this data includes
information copied with permission from Canada Post Corporation". One row per FSA (the first three
characters of a postal code): its province and its centroid. Rows placed outside Canada's bounds
(a few have latitude 90 or longitude 0 in the source) are left out: such an FSA is unknown, and a
ship-to there must send coordinates.
"""

from __future__ import annotations

import csv
import re
import sqlite3
import sys

PROVINCES = {
    "Alberta": "AB",
    "British Columbia": "BC",
    "Manitoba": "MB",
    "New Brunswick": "NB",
    "Newfoundland and Labrador": "NL",
    "Northwest Territory": "NT",
    "Nova Scotia": "NS",
    "Nunavut Territory": "NU",
    "Ontario": "ON",
    "Prince Edward Island": "PE",
    "Quebec": "QC",
    "Saskatchewan": "SK",
    "Yukon": "YT",
}
_FSA = re.compile(r"^[ABCEGHJ-NPRSTVXY][0-9][ABCEGHJ-NPRSTV-Z]$")


def main(database: str) -> int:
    connection = sqlite3.connect(database)
    found = connection.execute("SELECT fsa, province, latitude, longitude FROM PostalCodes ORDER BY fsa")
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["fsa", "province", "lat", "lon"])
    kept = left_out = 0
    for fsa, province, lat, lon in found:
        if not _FSA.match(fsa) or not (41.6 <= lat <= 83.2 and -141.1 <= lon <= -52.5):
            left_out += 1
            continue
        out.writerow([fsa, PROVINCES[province], f"{lat:.4f}", f"{lon:.4f}"])
        kept += 1
    print(f"{kept} FSAs written, {left_out} left out", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
