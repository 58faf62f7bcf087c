"""The operator extra link that opens a fine-tuning job in OpenAI's dashboard."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context
    from airflow.sdk.types import TaskInstanceKey

DASHBOARD_URL = "https://platform.openai.com/finetune/{job_id}"
OPENAI_API_HOST = "api.openai.com"
JOB_ID_XCOM_KEY = "openai_dashboard_job_id"


class FineTuningJobLink(BaseOperatorLink):
    """Opens the task's fine-tuning job in OpenAI's dashboard; empty when the connection is not OpenAI's."""

    name = "OpenAI fine-tuning job"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        job_id = XCom.get_value(ti_key=ti_key, key=JOB_ID_XCOM_KEY)
        return DASHBOARD_URL.format(job_id=quote(str(job_id), safe="")) if job_id else ""


def remember_job(context: Context, base_url: str, job_id: Any) -> None:
    """
    Keep the job id for :class:`FineTuningJobLink` when the connection's base URL is OpenAI's, else an empty
    value (so that the link finds its XCom and shows nothing).

    :param context: the task's context.
    :param base_url: the connection's base URL.
    :param job_id: the fine-tuning job id; ``None`` before there is one.
    """
    openai = urlsplit(base_url).hostname == OPENAI_API_HOST
    context["ti"].xcom_push(key=JOB_ID_XCOM_KEY, value=str(job_id) if job_id and openai else "")
