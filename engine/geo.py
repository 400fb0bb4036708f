"""Great-circle distances, vectorized over many nodes at once."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_MILES = 3958.8

FloatArray = npt.NDArray[np.float64]


def haversine_miles(lat: float, lon: float, lats: FloatArray, lons: FloatArray) -> FloatArray:
    """Distance in miles from one point to each of many, all in degrees."""
    phi1 = np.radians(lat)
    phi2 = np.radians(lats)
    dphi = phi2 - phi1
    dlmb = np.radians(lons - lon)
    h = np.sin(dphi / 2.0) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2.0) ** 2
    distance: FloatArray = 2.0 * EARTH_RADIUS_MILES * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
    return distance
