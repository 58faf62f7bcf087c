"""
The models the package sends when the user names none, apart from the retirement table of ``model_lifecycle``
(which re-exports them), so that importing an operator module does not build that table (DAG-parse cost).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

DEFAULT_MODELS: Mapping[str, str] = MappingProxyType(
    {
        "image": "gpt-image-2",
        "transcription": "gpt-transcribe",
        "speech_voice": "coral",
        "embeddings": "text-embedding-3-small",
        "moderation": "omni-moderation-latest",
        "chat": "gpt-5.6-luna",
    }
)
"""
Every default of the package. ``image``: the spec's current GPT image model (the API's own default for
generations is still ``dall-e-2``, which is gone, so it is sent explicitly). ``transcription``: OpenAI's
replacement for ``whisper-1`` and the ``gpt-4o-*-transcribe`` models (all shut down 2027-02-26); it is also the
first step of ``operation="translate", via="transcribe+text"``. There is no default translation model (the only
one, ``whisper-1``, shuts down with ``/audio/translations`` on 2027-02-26) and no default speech model
(``/audio/speech`` takes ``tts-1``, ``tts-1-hd`` and ``gpt-4o-mini-tts`` only, all shut down 2027-01-06; the
replacement, ``gpt-realtime-2.1-mini``, runs on the Realtime API instead): within 90 days of the review, a
default must not name a dying model. ``speech_voice``: the default voice. ``moderation``: the
API's own default, which the moderation operator leaves to the server. ``embeddings`` and ``chat``: the models
the examples and the README use (those operators require ``model``); ``chat`` is of the spec's GPT-5.6 family.
"""
