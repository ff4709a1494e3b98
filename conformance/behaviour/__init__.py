"""Known speech for the behavioural checks: the packaged corpus (:mod:`.corpus`) and the variants it is
sent in (:mod:`.variants`). The checks are :mod:`asr_conformance.conformance.checks.behaviour`; the
engine runs them early, in :mod:`asr_conformance.conformance.engine.behaviour_phase`.
"""
