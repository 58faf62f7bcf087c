"""
B4, streaming: download 512 MiB of file content and upload a 512 MiB file through ``OpenAIManageFilesOperator``,
beside a raw ``httpx`` stream and the official hook. 512 MiB is the largest file content the Files operator accepts
(``api.files.MAX_FILE_BYTES``, the API's own file size cap): a larger answer is refused as it arrives.

The server generates the download on the fly and reads the upload and throws it away. The upload's source is a
sparse file (no disk used); each download is deleted as soon as it is measured. Memory is the growth of the
kernel's peak-RSS mark (``VmHWM``, reset before each transfer) over the RSS just before it. The three clients
alternate over ``--rounds`` rounds (in rotated order, since disk write-back and neighbours slow whichever runs
at the wrong moment), after a warm-up of 8 MiB each way (imports, first connection); each reports its best
throughput and its largest memory growth. The rounds of one client swing between two speeds here (an upload at
about 500-1000 or about 1500-2000 MiB/s, raw httpx and ours alike, whatever the order): 9 rounds, so that each
client's best round is likely to be one of its fast ones (with 5, one client often had none and the ratio was a
draw: 46-104 % in three runs of the same code).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._common import (
    API_KEY,
    emit,
    local_server,
    median,
    peak_rss_mib,
    reset_peak_rss,
    scratch_dir,
    transfer,
    use_connections,
    yes_no,
)

MIB = 1 << 20


def alternate(
    transfers: dict[str, Callable[[], Any]], size: int, rounds: int, check: Callable[[str], None]
) -> dict[str, dict[str, float]]:
    """Run the transfers in rotated order for ``rounds`` rounds; keep the best throughput and the worst memory."""
    names = list(transfers)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            runs[name].append(measure(transfers[name], size))
            check(name)
    return {
        name: {
            "mib_per_s": max(run["mib_per_s"] for run in results),
            "mib_per_s_all": [round(run["mib_per_s"]) for run in results],
            "cpu_ms_per_mib": median([run["cpu_ms_per_mib"] for run in results]),
            "peak_rss_growth_mib": max(run["peak_rss_growth_mib"] for run in results),
            "rounds": len(results),
        }
        for name, results in runs.items()
    }


def measure(transfer: Callable[[], Any], size: int) -> dict[str, float]:
    """Run one transfer; return its throughput, the client process's CPU time per MiB and peak RSS growth."""
    before = reset_peak_rss()
    started, cpu_started = time.perf_counter(), time.process_time()
    transfer()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "seconds": elapsed,
        "mib_per_s": size / MIB / elapsed,
        "cpu_ms_per_mib": cpu * 1000 / (size / MIB),
        "peak_rss_growth_mib": peak_rss_mib() - before,
    }


def downloads(base_url: str, folder: Path, size: int, rounds: int) -> dict[str, dict[str, float]]:
    """Download ``size`` bytes three ways, deleting each file once measured."""
    import httpx
    from airflow.providers.openai.hooks.openai import OpenAIHook

    from airflow_provider_openai_fusion.operators.files import OpenAIManageFilesOperator

    file_id = f"file-{size}"
    target = folder / "download.bin"

    def ours() -> None:
        operator = OpenAIManageFilesOperator(
            task_id="download", action="retrieve_content", file_id=file_id, output_path=str(target)
        )
        operator.execute(context={})

    def raw() -> None:
        with (
            httpx.Client() as client,
            client.stream(
                "GET", f"{base_url}/files/{file_id}/content", headers={"Authorization": f"Bearer {API_KEY}"}
            ) as response,
            target.open("wb") as handle,
        ):
            response.raise_for_status()
            for chunk in response.iter_bytes():
                handle.write(chunk)

    def official() -> None:
        OpenAIHook().conn.files.content(file_id).write_to_file(target)

    def check(name: str) -> None:
        assert target.stat().st_size == size, (name, target.stat().st_size)
        target.unlink()

    return alternate({"ours": ours, "raw_httpx": raw, "official": official}, size, rounds, check)


def uploads(base_url: str, folder: Path, size: int, rounds: int) -> dict[str, dict[str, float]]:
    """Upload a sparse ``size``-byte file three ways; the server answers with the byte count it received."""
    import httpx
    from airflow.providers.openai.hooks.openai import OpenAIHook

    from airflow_provider_openai_fusion.operators.files import OpenAIManageFilesOperator

    source = folder / "upload.bin"
    with source.open("wb") as handle:
        handle.truncate(size)
    received: dict[str, int] = {}

    def ours() -> None:
        operator = OpenAIManageFilesOperator(task_id="upload", action="upload", file=str(source), purpose="user_data")
        received["ours"] = operator.execute(context={})["bytes"]

    def raw() -> None:
        with httpx.Client(timeout=600) as client, source.open("rb") as handle:
            response = client.post(
                f"{base_url}/files",
                data={"purpose": "user_data"},
                files={"file": (source.name, handle, "application/octet-stream")},
                headers={"Authorization": f"Bearer {API_KEY}"},
            )
            response.raise_for_status()
            received["raw_httpx"] = response.json()["bytes"]

    def official() -> None:
        received["official"] = OpenAIHook().upload_file(str(source), "user_data").bytes

    def check(name: str) -> None:
        assert received.pop(name) > size, name

    try:
        return alternate({"ours": ours, "raw_httpx": raw, "official": official}, size, rounds, check)
    finally:
        source.unlink()


def cpu(t: dict[str, dict[str, float]], name: str) -> str:
    """The client process's CPU time per MiB (median over the rounds) of one transfer."""
    return f"{t[name]['cpu_ms_per_mib']:.2f} ms/MiB"


def per_round(t: dict[str, dict[str, Any]], name: str) -> str:
    """The throughput of each round of one transfer, in MiB/s."""
    return ", ".join(str(value) for value in t[name]["mib_per_s_all"])


def table_row(r: dict[str, Any]) -> list[str]:
    """This benchmark's row of the results table, from its result."""
    down, up = r["download"], r["upload"]
    ratios = {name: t["ours"]["mib_per_s"] / t["raw_httpx"]["mib_per_s"] for name, t in (("down", down), ("up", up))}
    growth = max(down["ours"]["peak_rss_growth_mib"], up["ours"]["peak_rss_growth_mib"])
    met = growth <= 64 and min(ratios.values()) >= 0.8
    cpu_ratio = max(t["ours"]["cpu_ms_per_mib"] / t["raw_httpx"]["cpu_ms_per_mib"] for t in (down, up))
    why = (
        ""
        if met
        else f"peak RSS growth {growth:.0f} MiB, throughput {min(ratios.values()):.0%} of raw httpx (best round each; "
        f"client CPU per MiB at most {cpu_ratio:.2f}x raw's)"
    )
    return [
        f"B4 streaming (download {r['download_bytes'] / 2**20:.0f} MiB, upload {r['upload_bytes'] / 2**20:.0f} MiB "
        "through the Files operator)",
        "peak RSS growth ≤ 64 MiB; throughput ≥ 80 % of a raw httpx stream",
        f"download {transfer(down['ours'])} ({ratios['down']:.0%} of raw), CPU {cpu(down, 'ours')}; upload "
        f"{transfer(up['ours'])} ({ratios['up']:.0%} of raw), CPU {cpu(up, 'ours')} "
        f"({up['ours']['cpu_ms_per_mib'] / up['raw_httpx']['cpu_ms_per_mib']:.2f}x raw's); upload rounds "
        f"{per_round(up, 'ours')} MiB/s (raw {per_round(up, 'raw_httpx')})",
        f"download (`files.content`, no hook method): {transfer(down['official'])}; upload (`upload_file`): "
        f"{transfer(up['official'])}",
        f"download {transfer(down['raw_httpx'])}, CPU {cpu(down, 'raw_httpx')}; upload {transfer(up['raw_httpx'])}, "
        f"CPU {cpu(up, 'raw_httpx')}",
        yes_no(met),
        why,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--download-mib", type=int, default=512)
    parser.add_argument("--upload-mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    with local_server() as base_url, scratch_dir() as folder:
        use_connections(base_url)
        downloads(base_url, folder, 8 * MIB, 1)
        uploads(base_url, folder, 8 * MIB, 1)
        down = downloads(base_url, folder, args.download_mib * MIB, args.rounds)
        up = uploads(base_url, folder, args.upload_mib * MIB, args.rounds)
        leftovers = os.listdir(folder)
    emit(
        {
            "download_bytes": args.download_mib * MIB,
            "upload_bytes": args.upload_mib * MIB,
            "rounds": args.rounds,
            "download": down,
            "upload": up,
            "leftover_files": leftovers,
        }
    )


if __name__ == "__main__":
    main()
