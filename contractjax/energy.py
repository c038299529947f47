"""Energy and CO₂ of training, measured by CodeCarbon (the tool of the DT paper's Fig. 6), offline.

An optional extra (``pip install -e ".[energy]"``). Without it, :class:`Meter` records why the fields
are missing instead of numbers. CodeCarbon estimates the CPU's power from RAPL counters where the
kernel exposes them, else from the CPU model's TDP scaled by its load (``cpu_mode`` says which), the
GPU's from NVML, and RAM at a fixed watts-per-GB; emissions are energy times the country's grid
carbon intensity (``CONTRACTJAX_COUNTRY``, an ISO 3166 alpha-3 code, default ``USA``). No network.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

#: Grid of the emissions factor (ISO 3166-1 alpha-3).
COUNTRY_ENV = "CONTRACTJAX_COUNTRY"


class Meter:
    """``with Meter() as m: ...`` then ``m.result``: a flat dict for ``summary.json`` /
    ``results.csv`` (``energy_kwh``, ``co2_kg``, ``country``, ``grid_kg_per_kwh``, ``cpu_mode``,
    ``energy_device``), or ``energy_missing`` saying why."""

    def __init__(self) -> None:
        self.result: dict[str, Any] = {}
        self._tracker: Any = None

    def __enter__(self) -> Meter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Meter:
        try:
            from codecarbon import OfflineEmissionsTracker
        except ImportError:
            self.result = {"energy_missing": 'CodeCarbon is not installed: pip install -e ".[energy]"'}
            return self
        country = os.environ.get(COUNTRY_ENV, "USA")
        logging.getLogger("codecarbon").setLevel(logging.ERROR)
        try:
            kw = {"country_iso_code": country, "log_level": "error", "measure_power_secs": 5}
            try:  # CodeCarbon 3 names its outputs; 2 only had save_to_file (both: write no file)
                self._tracker = OfflineEmissionsTracker(**kw, output_methods=[])
            except TypeError:
                self._tracker = OfflineEmissionsTracker(**kw, save_to_file=False)
            self._tracker.start()
        except Exception as e:  # an unknown country or an unreadable sensor must not stop training
            self._tracker = None
            self.result = {"energy_missing": f"CodeCarbon could not start ({type(e).__name__}: {e})"}
        return self

    def stop(self) -> dict[str, Any]:
        """Stop measuring; returns (and keeps in ``result``) the measurement."""
        if self._tracker is None:
            return self.result
        with contextlib.suppress(Exception):
            co2 = self._tracker.stop()
            d = self._tracker.final_emissions_data
            hw = {type(h).__name__: getattr(h, "_mode", "") for h in getattr(self._tracker, "_hardware", [])}
            kwh = float(d.energy_consumed)
            self.result = {"energy_kwh": kwh, "co2_kg": float(co2), "country": d.country_iso_code,
                           "grid_kg_per_kwh": float(co2) / kwh if kwh > 0 else None,
                           "cpu_mode": hw.get("CPU", "") or "n/a",
                           "energy_device": d.gpu_model or d.cpu_model}
            self._tracker = None
            return self.result
        self._tracker = None
        self.result = {"energy_missing": "CodeCarbon failed while stopping"}
        return self.result
