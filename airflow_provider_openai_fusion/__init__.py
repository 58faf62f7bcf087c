"""Apache Airflow provider for the OpenAI API, with the modules of Workfront Fusion's OpenAI connector."""

from __future__ import annotations

__version__ = "0.2.0"
