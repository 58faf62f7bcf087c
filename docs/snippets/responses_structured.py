"""Responses with structured output: one response per document, the item's key carried through the mapping."""

from airflow.sdk import DAG, task
from pydantic import BaseModel

from airflow_provider_openai_fusion.operators import OpenAIResponseOperator


class Invoice(BaseModel):
    vendor: str
    total: float
    currency: str


DOCUMENTS = {
    "inv-001": "ACME Corp. Invoice. Total due: 1,250.00 EUR.",
    "inv-002": "Globex invoice, amount 99.90 USD.",
}

with DAG(dag_id="docs_responses_structured", schedule=None):

    @task
    def requests() -> list[dict]:
        # One dict of arguments per mapped task: the key goes in metadata and comes back with the answer.
        return [{"input": text, "metadata": {"document": key}} for key, text in DOCUMENTS.items()]

    extract = OpenAIResponseOperator.partial(
        task_id="extract",
        model="gpt-5.6-luna",
        instructions="Extract the invoice fields.",
        text_format=Invoice,
        returns="parsed",  # the XCom is {"id", "metadata", "output_parsed"}, not the whole response
    ).expand_kwargs(requests())

    @task
    def by_document(answers: list[dict]) -> dict[str, dict]:
        return {answer["metadata"]["document"]: answer["output_parsed"] for answer in answers}

    by_document(extract.output)
