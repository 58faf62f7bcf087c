"""A small stateful stand-in for the OpenAI API, run behind ``prism proxy --errors`` in the tests and the main job."""
