"""Compare: the same cases sent to several targets; where they differ (``run``, ``result``, ``observe``)
and the matrices and badges that show it (``report``).
"""
