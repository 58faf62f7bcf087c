"""
Structured extraction with the Responses API: one mapped task per document, all in parallel, each answer a
strict JSON object checked against a pydantic model; a downstream task reads every ``output_parsed``.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task
from pydantic import BaseModel, Field

from airflow_provider_openai_fusion.operators import OpenAIResponseOperator


class LineItem(BaseModel):
    """One line of an invoice."""

    description: str
    quantity: int
    unit_price: float


class Invoice(BaseModel):
    """What to extract from each document."""

    supplier: str = Field(description="the company that issued the invoice")
    invoice_number: str
    currency: str = Field(description="ISO 4217 code, e.g. EUR")
    due_date: str | None = Field(description="YYYY-MM-DD, or null when the document gives none")
    items: list[LineItem]


with DAG(
    dag_id="openai_fusion_responses_structured_extraction",
    description="Extract invoices from documents in parallel as validated JSON objects",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["openai", "example", "responses"],
) as dag:

    @task
    def fetch_documents() -> list[str]:
        """Stands for reading new documents from a mailbox or a bucket."""
        return [
            "ACME GmbH - Invoice 2026-114. 3 x pallet wrap at 12.50 EUR. Payable by 2026-12-15.",
            "Invoice #A-77 from Northwind Ltd: 1 consulting day, 950.00 GBP, due on receipt.",
            "Globex Corp bill 5531 - 10 licences at 19.99 USD each, due 2027-01-10.",
        ]

    extract = OpenAIResponseOperator.partial(
        task_id="extract",
        model="gpt-5.6-terra",
        instructions="Extract the invoice from the document. Use null for anything the document does not say.",
        text_format=Invoice,
        temperature=0,
        max_output_tokens=400,
        max_input_tokens=2000,
    ).expand(input=fetch_documents())

    @task
    def totals(extracted: list[dict]) -> dict[str, float]:
        """Sum each invoice's items; every ``output_parsed`` has already been validated against ``Invoice``."""
        invoices = [Invoice.model_validate(result["output_parsed"]) for result in extracted]
        return {
            f"{invoice.supplier} {invoice.invoice_number}": round(
                sum(item.quantity * item.unit_price for item in invoice.items), 2
            )
            for invoice in invoices
        }

    totals(extract.output)
