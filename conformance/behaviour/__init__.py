"""Behavioural conformance: does the target hear what was said?

Known speech (:mod:`.corpus`), sent in variants (:mod:`.variants`), judged by the behavioural checks
(:mod:`.checks`) in a phase the engine runs early (:mod:`.phase`).
"""

# The registry imports .checks; importing it first makes either entry point load the modules in the
# same order (registry → .checks), never a half-initialised .checks.
import asr_conformance.conformance.checks  # noqa: F401
