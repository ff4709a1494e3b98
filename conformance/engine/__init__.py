"""The engine: plan a run, send its cases through a target, judge, shrink, and stream events.

``config`` (RunConfig) → ``probe`` (is there anything to judge?) → ``runner`` (cases in flight, plan
order) → ``execute`` (one case) → ``shrinking``; ``replay`` drives a run from a recording instead.
"""
