"""
The migration report: which models the user's DAG files name, and when each shuts down.

``python -m airflow_provider_openai_fusion.models report [--conn-id ID] [--within N] [DAGS_FOLDER]``; see
:mod:`~airflow_provider_openai_fusion.models.scan` (reading DAG files with ``ast``, never importing them) and
:mod:`~airflow_provider_openai_fusion.models.report` (merging with the server's dates and the table).
"""
