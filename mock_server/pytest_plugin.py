"""pytest plugin: the ``asr_mock`` fixture (filled in by the mock server work)."""
