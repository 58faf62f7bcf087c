"""A module no test imports: ``text_format`` naming it must not import it (see test_server_tricks.py)."""

from pydantic import BaseModel


class Canary(BaseModel):
    sung: bool
