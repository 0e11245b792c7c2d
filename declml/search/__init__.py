"""``declml tune``: KerasTuner searches over the space a spec declares inline.

Keras and KerasTuner are imported only by the modules that run trials
(``hypermodel``, ``callbacks``, ``tuners``), after the backend is chosen.
"""
