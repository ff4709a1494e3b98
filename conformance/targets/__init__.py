"""Targets: one interface (``conformance.target.Target``) over a URL, the in-process mock and a recording.

``factory.open_target`` reads the command-line spelling; ``http`` sends (auth added here, never earlier);
``replay`` answers from a cassette read with ``cassette_format``.
"""
