"""``python -m dev.standin [--port 4999] [--api-key sk-test]``: serve the stand-in (see ``dev/standin/app.py``)."""

from dev.standin.app import main

main()
