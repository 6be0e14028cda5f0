"""ehrlib: reusable code for the EHR deep-learning book.

Subpackages follow the data flow: `icu` and `stroke` (one per study's data: generators, readers,
cohorts, encodings), `mortality` (the mortality models, results and report), `evaluation` (metrics,
calibration, thresholds, cross-validation for both studies). Top-level modules are shared plumbing:
`io` (atomic writes, JSON state), `plots` (one theme, generic figures), `profiles`, `book`, `cli`.
Imports run downwards only; importing the package imports nothing heavy.
"""

__version__ = "0.1.0"
