"""asr-conformance: conformance testing for the Hugging Face automatic-speech-recognition API."""

__version__ = "0.1.0"

__all__ = ["__version__"]
