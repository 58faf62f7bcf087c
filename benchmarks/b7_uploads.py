"""
B7, large uploads: a 2 GiB file uploaded through ``OpenAIManageFilesOperator``, which sends it through the
Uploads API (32 parts of 64 MiB, 4 at a time, each streamed from disk, the MD5 computed alongside), beside a
single raw ``httpx`` multipart stream of the same bytes to ``POST /files`` in the same run.

The source is a sparse file (no disk used, read from the page cache as zeros); the server reads every byte and
throws it away. Memory is the growth of the kernel's peak-RSS mark (``VmHWM``, reset before each transfer) over
the RSS just before it. The two clients alternate over ``--rounds`` rounds after a warm-up just over the
single-request limit (544 MiB
each, 9 parts: imports, first connections); each reports its best throughput and its largest memory growth.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from benchmarks._common import API_KEY, emit, local_server, scratch_dir, transfer, use_connections, yes_no
from benchmarks.b4_streaming import alternate

MIB = 1 << 20


def uploads(base_url: str, folder: Path, size: int, rounds: int) -> dict[str, dict[str, float]]:
    """Upload a sparse ``size``-byte file in parts through the operator, and in one raw httpx stream."""
    import httpx

    from airflow_provider_openai_fusion.operators.files import OpenAIManageFilesOperator

    source = folder / "large.bin"
    with source.open("wb") as handle:
        handle.truncate(size)
    received: dict[str, int] = {}

    def ours() -> None:
        operator = OpenAIManageFilesOperator(task_id="upload", action="upload", file=str(source), purpose="assistants")
        received["ours"] = operator.execute(context={})["bytes"]

    def raw() -> None:
        with httpx.Client(timeout=600) as client, source.open("rb") as handle:
            response = client.post(
                f"{base_url}/files",
                data={"purpose": "assistants"},
                files={"file": (source.name, handle, "application/octet-stream")},
                headers={"Authorization": f"Bearer {API_KEY}"},
            )
            response.raise_for_status()
            received["raw_httpx"] = response.json()["bytes"]

    def check(name: str) -> None:
        assert received.pop(name) > size, name  # the bytes of the file plus the multipart framing

    try:
        return alternate({"ours": ours, "raw_httpx": raw}, size, rounds, check)
    finally:
        source.unlink()


def table_row(r: dict[str, Any]) -> list[str]:
    """This benchmark's row of the results table, from its result."""
    ours, raw = r["upload"]["ours"], r["upload"]["raw_httpx"]
    ratio = ours["mib_per_s"] / raw["mib_per_s"]
    met = ours["peak_rss_growth_mib"] <= 64
    why = "" if met else f"peak RSS growth {ours['peak_rss_growth_mib']:.0f} MiB"
    return [
        f"B7 large upload ({r['upload_bytes'] / 2**30:.0f} GiB through the Files operator: Uploads API, "
        f"{r['parts']} parts of 64 MiB, 4 at a time, MD5 alongside; {r['rounds']} rounds)",
        "peak RSS growth ≤ 64 MiB; throughput beside one raw httpx stream",
        f"{transfer(ours)} ({ratio:.0%} of the raw stream)",
        "no large-upload path (`upload_file` sends one request, refused above 512 MB by the API)",
        f"one raw httpx multipart stream to `POST /files`: {transfer(raw)}",
        yes_no(met),
        why,
    ]


def main() -> None:
    from airflow_provider_openai_fusion.api import files

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--upload-mib", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with local_server() as base_url, scratch_dir() as folder:
        use_connections(base_url)
        warm_up = files.MAX_FILE_BYTES + 32 * MIB
        uploads(base_url, folder, warm_up, 1)
        results = uploads(base_url, folder, args.upload_mib * MIB, args.rounds)
        leftovers = os.listdir(folder)
    emit(
        {
            "upload_bytes": args.upload_mib * MIB,
            "parts": -(-args.upload_mib * MIB // (64 * MIB)),
            "rounds": args.rounds,
            "upload": results,
            "leftover_files": leftovers,
        }
    )


if __name__ == "__main__":
    main()
