"""pytest plugin: ``pytest --asr-target URL`` (filled in by the reporting work)."""
