"""
The HTTP client: no Airflow, no pydantic.

``request`` describes a call, ``retry`` decides what to do after a failure, ``errors`` maps an error answer to an
exception, ``transport`` holds the two thin drivers (the only network I/O), ``pagination`` follows list pages and
``ratelimit`` paces bulk callers by the server's ``x-ratelimit-*`` headers.
"""
