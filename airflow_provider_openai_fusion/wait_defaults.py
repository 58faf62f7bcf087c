"""
How long each wait for a long-running job lasts when the task sets neither ``timeout`` nor ``execution_timeout``:
every wait (the operators', the sensors' in poke, reschedule and deferrable mode, the triggers') has a deadline,
from what the API promises. Cheap to import (DAG-parse path of the sensors).

- **Batch**: its completion window (the API accepts ``24h`` only: a batch not done by then becomes ``expired``)
  plus :data:`BATCH_MARGIN` for the batch to reach that final status and its output file to be written.
- **Background response**: no documented limit; the longest documented runs (deep research) take tens of
  minutes, so :data:`BACKGROUND_RESPONSE_TIMEOUT` is several times that.
- **Fine-tuning job**: no documented limit; jobs take minutes to hours, queueing included, so
  :data:`FINE_TUNING_JOB_TIMEOUT` allows two days.
- **Vector-store file batch**: no documented limit; files are parsed, chunked and embedded in seconds to
  minutes each, in parallel, so :data:`FILE_BATCH_TIMEOUT` allows an hour.
"""

from __future__ import annotations

import re

HOUR = 3600.0
BATCH_COMPLETION_WINDOW = 24 * HOUR
BATCH_MARGIN = 1 * HOUR
BATCH_TIMEOUT = BATCH_COMPLETION_WINDOW + BATCH_MARGIN
BACKGROUND_RESPONSE_TIMEOUT = 2 * HOUR
FINE_TUNING_JOB_TIMEOUT = 48 * HOUR
FILE_BATCH_TIMEOUT = 1 * HOUR
_WINDOW = re.compile(r"(\d{1,4})([hm])")


def batch_timeout(completion_window: str | None) -> float:
    """
    A batch's default wait: its completion window (``24h``; ``m`` minutes are read too) plus :data:`BATCH_MARGIN`.

    :param completion_window: the batch's ``completion_window``; ``None`` or an unreadable one counts as ``24h``.
    """
    found = _WINDOW.fullmatch(str(completion_window or "").strip())
    window = int(found[1]) * (HOUR if found[2] == "h" else 60.0) if found else BATCH_COMPLETION_WINDOW
    return window + BATCH_MARGIN
