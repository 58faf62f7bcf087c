"""
B9, react instead of poll: 1,000 batches over a simulated day, their endings seen by polling every 60 s or by
OpenAI's webhooks. Counted: requests sent to OpenAI, and the delay from each batch's end until Airflow knows of it
(the moment the downstream DAG can be queued).

Simulated time, real code. Batches are submitted at seeded random moments over 24 hours and run for a seeded
log-normal time (median 30 minutes, clipped to 2 minutes - 24 hours). Polling runs the provider's own wait loop
(``_waiting.Watch.until_done`` driven by ``drive``, as ``OpenAIBatchOperator`` and its trigger run it) on a fake
clock, each look answered by a fake Batch API that says ``completed`` once the batch's end has passed; its requests
are counted as they are sent. Webhooks: at each end, the event is signed and posted to the provider's real receiver
app (``webhooks.receiver``, in process over ASGI, with the connection lookup and the asset-event recorder replaced
by in-memory ones); its answer time is measured for real. OpenAI's own sending delay is not published and not
included (0); Airflow's scheduling of the DAG once it knows (the same for both) is not included either: the e2e test
measures it. The webhook side adds the example's safety net: one ``GET /batches`` listing a day (2,000 batches at
most, 100 a page).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import math
import random
import statistics
import time
from typing import Any

from benchmarks._common import emit, percentile

DAY = 86_400
POLL_SECONDS = 60.0
SAFETY_NET_PAGES = 20


def batches(count: int, seed: int) -> list[tuple[float, float]]:
    """(submitted, ended) of each simulated batch, in simulated seconds."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        submitted = rng.uniform(0, DAY)
        duration = min(max(rng.lognormvariate(math.log(1800), 1.0), 120), DAY)
        out.append((submitted, submitted + duration))
    return out


def polling(plan: list[tuple[float, float]]) -> dict[str, Any]:
    """Each batch followed by the provider's wait loop on a fake clock: requests sent and detection delays."""
    from airflow_provider_openai_fusion._waiting import Watch, drive
    from airflow_provider_openai_fusion.api.batches import BATCHES

    quiet = logging.getLogger("b8.quiet")
    quiet.disabled = True
    requests, delays = 0, []
    for number, (submitted, ended) in enumerate(plan):
        now = [submitted]

        def send(spec: Any, ended: float = ended, now: list[float] = now, batch_id: str = f"batch_{number}") -> Any:
            nonlocal requests
            requests += 1
            return {"id": batch_id, "status": "completed" if now[0] >= ended else "in_progress"}

        def sleep(seconds: float, now: list[float] = now) -> None:
            now[0] += seconds

        watch = Watch(BATCHES, f"batch_{number}", quiet)
        drive(watch.until_done(POLL_SECONDS, None, clock=lambda now=now: now[0]), send, sleep)
        delays.append(now[0] - ended)
    return {"requests": requests, **summary(delays)}


def webhooks(plan: list[tuple[float, float]]) -> dict[str, Any]:
    """Each ending posted, signed, to the real receiver app: answer times (measured) and events recorded."""
    import httpx

    from airflow_provider_openai_fusion.webhooks.receiver import Receiver, create_app
    from airflow_provider_openai_fusion.webhooks.signature import secret_key, sign

    key = secret_key("whsec_" + base64.b64encode(b"b8-webhook-secret-32-bytes-long!").decode())
    recorded: list[str] = []
    app = create_app(
        Receiver(keys=lambda conn_id: [key], record=lambda conn_id, event: recorded.append(event.object_id))
    )
    logging.getLogger("airflow_provider_openai_fusion.webhooks.receiver").setLevel(logging.WARNING)

    async def deliver_all() -> list[float]:
        answers = []
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://airflow") as client:
            for number, _ in enumerate(sorted(plan, key=lambda batch: batch[1])):
                body = json.dumps(
                    {
                        "id": f"evt_{number}",
                        "object": "event",
                        "type": "batch.completed",
                        "created_at": 1,
                        "data": {"id": f"batch_{number}"},
                    }
                ).encode()
                stamp = int(time.time())
                headers = {"webhook-id": f"wh_{number}", "webhook-timestamp": str(stamp)}
                headers["webhook-signature"] = sign(key, f"wh_{number}", stamp, body)
                started = time.perf_counter()
                answer = await client.post("/webhooks/openai_fusion_default", content=body, headers=headers)
                answers.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text
        return answers

    answers = asyncio.run(deliver_all())
    assert len(recorded) == len(plan)
    return {"requests": SAFETY_NET_PAGES, "recorded": len(recorded), **summary(answers)}


def summary(delays: list[float]) -> dict[str, float]:
    """Mean, p50, p99 and max of the delays, in seconds."""
    ordered = sorted(delays)
    return {
        "delay_mean_s": statistics.fmean(ordered),
        "delay_p50_s": percentile(ordered, 0.5),
        "delay_p99_s": percentile(ordered, 0.99),
        "delay_max_s": ordered[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    plan = batches(args.batches, args.seed)
    hours = statistics.fmean(ended - submitted for submitted, ended in plan) / 3600
    emit({"batches": args.batches, "mean_batch_hours": hours, "polling": polling(plan), "webhooks": webhooks(plan)})


def table_row(r: dict[str, Any]) -> list[str]:
    """This benchmark's row of the results table, from its result."""
    poll, hook = r["polling"], r["webhooks"]
    met = hook["requests"] < poll["requests"] and hook["delay_p99_s"] < 1.0
    return [
        f"B9 webhooks vs polling: {r['batches']:,} batches over a simulated day (mean {r['mean_batch_hours']:.1f} h)",
        "fewer requests than polling every 60 s; batch end to asset event under 1 s",
        f"webhooks: {hook['requests']} requests (the daily safety-net listing); end to event: receiver answer p50 "
        f"{hook['delay_p50_s'] * 1000:.1f} ms, p99 {hook['delay_p99_s'] * 1000:.1f} ms (+ OpenAI's sending delay)",
        "no webhooks (polls only)",
        f"polling every 60 s: {poll['requests']:,} requests; end to detection mean {poll['delay_mean_s']:.0f} s, "
        f"p99 {poll['delay_p99_s']:.0f} s, max {poll['delay_max_s']:.0f} s",
        "yes" if met else "no",
        "" if met else "the receiver answered slower than 1 s at p99",
    ]


if __name__ == "__main__":
    main()
