"""Custom calls: any endpoint the operators do not cover, with the operator or from a @task with the hook."""

from airflow.sdk import DAG, task

from airflow_provider_openai_fusion.operators import OpenAICustomAPICallOperator

with DAG(dag_id="docs_custom_calls", schedule=None):
    # The url is relative to the connection's Base URL; the key is added for you and sent nowhere else.
    models = OpenAICustomAPICallOperator(task_id="models", url="/models", method="GET")

    @task
    def chat_with_the_hook() -> str:
        from airflow_provider_openai_fusion.api import chat
        from airflow_provider_openai_fusion.hooks import OpenAIFusionHook

        body = {"model": "gpt-5.6-luna", "messages": [{"role": "user", "content": "Say hello."}]}
        answer = OpenAIFusionHook().request(chat.create_chat_completion(body))
        return answer["choices"][0]["message"]["content"]

    models >> chat_with_the_hook()
