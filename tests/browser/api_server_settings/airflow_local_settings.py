"""
Loaded by the browser test's api-server only (through PYTHONPATH): Airflow's fix for the Test button.

Airflow 3.3.2's UI tests a stored connection with ``port: Number(connection.port)``, which is ``0`` when the
connection has no port, and its API then refuses the test with 400 "The host or port to test differs from
the stored connection" (every connection without a port, of any type). apache/airflow#73298 fixed it in the
API by treating port 0 as blank; this applies the same fix where it is missing, and does nothing otherwise.
"""

from __future__ import annotations

from airflow.api_fastapi.core_api.routes.public import connections

if not connections._same_endpoint(0, None):
    _same_endpoint = connections._same_endpoint

    def _same_endpoint_port_zero_is_blank(requested: str | int | None, stored: str | int | None) -> bool:
        return _same_endpoint(None if requested == 0 else requested, stored)

    connections._same_endpoint = _same_endpoint_port_zero_is_blank
