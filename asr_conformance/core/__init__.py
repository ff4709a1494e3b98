"""The bottom layer: helpers every part may use (secret redaction). Imports nothing of ours."""
