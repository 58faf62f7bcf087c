"""
``[core] hostname_callable`` of the distributed test: the two Celery workers run on one machine, so each names
itself through ``OPENAI_FUSION_WORKER`` and the task instances record which worker ran them.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    """This process's ``OPENAI_FUSION_WORKER``, else the machine's name (scheduler, triggerer, ...)."""
    return os.environ.get("OPENAI_FUSION_WORKER") or socket.getfqdn()
