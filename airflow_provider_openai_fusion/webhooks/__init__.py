"""
OpenAI webhooks as Airflow asset events.

OpenAI signs each webhook per the Standard Webhooks specification and posts it to
``/openai-fusion/webhooks/{conn_id}`` on Airflow's api-server, where the provider's plugin
(:mod:`.plugin`, :mod:`.receiver`) verifies it with the connection's ``webhook_secret`` and records it once as an
asset event on ``openai-fusion://{conn_id}/{event_type}``; DAGs schedule on :func:`.assets.openai_webhook_asset`.
Only :mod:`.assets` is imported by DAG files; the rest runs in the api-server.
"""
