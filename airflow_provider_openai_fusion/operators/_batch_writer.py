"""
What a batch join writes, shared by the Batch operator (when it waits) and the results-only operator: every
batch's results written to ``output_path`` in input order, usage summed and recorded, counts logged and returned.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def write_results(
    operator: Any,
    batches: Sequence[dict[str, Any]],
    custom_ids: Callable[[int, dict[str, Any], Path], Sequence[str]],
) -> dict[str, Any]:
    """
    Join the results of ``batches`` into the operator's ``output_path`` (atomically: all of it or nothing) and return
    ``{"batch_ids", "path", "counts", "usage"}``.

    :param operator: the operator (``hook``, ``output_path``, ``log``, ``log_usage``).
    :param batches: the finished batches, in the order of their parts.
    :param custom_ids: the input order of a batch: its position, the batch, and a scratch folder of its own.
    """
    from airflow_provider_openai_fusion._atomic import AtomicFile
    from airflow_provider_openai_fusion._ledger import batch_model
    from airflow_provider_openai_fusion.operators._batch_results import Counts, join_batch, sum_usage
    from airflow_provider_openai_fusion.operators._io import write_output

    counts, usage = Counts(), dict[str, Any]()

    def write(path: Path) -> Path:
        target = AtomicFile(path)
        try:
            with tempfile.TemporaryDirectory(prefix="openai-fusion-results-") as downloads:
                for number, batch in enumerate(batches):
                    folder = Path(downloads) / str(number)
                    folder.mkdir()
                    index = join_batch(
                        operator.hook, batch, custom_ids(number, batch, folder), folder, target.handle, counts
                    )
                    if index.duplicates or index.unexpected:
                        operator.log.warning(
                            "Batch %s: %d repeated result lines (kept the first), %d for custom ids not in the input "
                            "(skipped)",
                            batch["id"],
                            index.duplicates,
                            index.unexpected,
                        )
                    for custom_id, reason in list(index.reasons.items())[:5]:
                        operator.log.warning(
                            "Batch %s: the result of %r is an error row: %s", batch["id"], custom_id, reason
                        )
                    sum_usage(usage, batch.get("usage"))
        except BaseException:
            target.discard()
            raise
        return target.commit()

    path = write_output("output_path", operator.output_path, write)
    operator.log_usage({"usage": usage, "model": batch_model(batches)}, tier="batch", calls=counts.succeeded)
    operator.log.info(
        "Wrote %d results to %s: %d succeeded, %d failed, %d expired",
        counts.total,
        path,
        counts.succeeded,
        counts.failed,
        counts.expired,
    )
    return {"batch_ids": [batch["id"] for batch in batches], "path": path, "counts": counts.as_dict(), "usage": usage}
