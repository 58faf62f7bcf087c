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
import hashlib
import os
from pathlib import Path
from typing import Any

from benchmarks._common import API_KEY, emit, local_server, scratch_dir, transfer, use_connections, yes_no
from benchmarks.b4_streaming import alternate, measure

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
        results = alternate({"ours": ours, "raw_httpx": raw}, size, rounds, check)
        results["md5_alone"] = max((measure(lambda: md5_of(source), size) for _ in range(rounds)), key=speed)
        return results
    finally:
        source.unlink()


def speed(run: dict[str, float]) -> float:
    """A run's throughput, to pick the best."""
    return run["mib_per_s"]


def md5_of(path: Path) -> str:
    """The file's MD5 alone, read as the operator reads it (4 MiB at a time into one buffer): the sequential floor."""
    digest = hashlib.md5(usedforsecurity=False)
    buffer = memoryview(bytearray(4 * MIB))
    with path.open("rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            digest.update(buffer[:count])
    return digest.hexdigest()


def table_row(r: dict[str, Any]) -> list[str]:
    """This benchmark's row of the results table, from its result."""
    ours, raw, md5 = r["upload"]["ours"], r["upload"]["raw_httpx"], r["upload"]["md5_alone"]
    ratio = ours["mib_per_s"] / raw["mib_per_s"]
    ceiling = md5["mib_per_s"] / raw["mib_per_s"]
    met = ours["peak_rss_growth_mib"] <= 64 and ratio >= 0.5
    why = "" if ours["peak_rss_growth_mib"] <= 64 else f"peak RSS growth {ours['peak_rss_growth_mib']:.0f} MiB; "
    if ratio < 0.5:
        why += (
            f"{ratio:.0%} of the raw stream: the MD5 the upload is completed with is one sequential pass on one "
            f"core, and alone it runs at {md5['mib_per_s']:.0f} MiB/s ({ceiling:.0%} of the raw stream, "
            f"{md5['cpu_ms_per_mib']:.2f} ms CPU per MiB), the ceiling of any upload that sends it, on any number "
            "of cores"
        )
    return [
        f"B7 large upload ({r['upload_bytes'] / 2**30:.0f} GiB through the Files operator: Uploads API, "
        f"{r['parts']} parts of 64 MiB, 4 at a time, MD5 alongside; {r['rounds']} rounds)",
        "peak RSS growth ≤ 64 MiB; throughput ≥ 50 % of one raw httpx stream",
        f"{transfer(ours)} ({ratio:.0%} of the raw stream), client CPU {ours['cpu_ms_per_mib']:.2f} ms/MiB "
        f"({ours['cpu_ms_per_mib'] / raw['cpu_ms_per_mib']:.1f}x the raw stream's; the MD5 alone "
        f"{md5['cpu_ms_per_mib']:.2f} ms/MiB)",
        "no large-upload path (`upload_file` sends one request, refused above 512 MB by the API)",
        f"one raw httpx multipart stream to `POST /files`: {transfer(raw)}, client CPU "
        f"{raw['cpu_ms_per_mib']:.2f} ms/MiB; the file's MD5 alone: {md5['mib_per_s']:.0f} MiB/s",
        yes_no(met),
        why.rstrip("; "),
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
