"""
The contract tier: the provider against the local stand-in (``dev/standin``) behind ``prism proxy --errors``,
which validates every request and every answer against OpenAI's published OpenAPI spec.

What a green test here proves: the requests the provider sends and the answers it accepts have the **shapes**
OpenAI's spec describes (paths, methods, fields, types, enums, multipart layout), end to end through real
sockets, and often through a real Airflow. What it does **not** prove: how OpenAI behaves. Job timings, the text
a model answers (the stand-in echoes it), the outcomes of batches, fine-tuning and background responses, and the
"magic" inputs that trigger failures are the stand-in's own invention. Behaviour claims are tested against
OpenAI's documented behaviour in the unit and reliability tiers, with the documentation named in the test.
"""
