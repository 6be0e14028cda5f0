"""ehrlib: reusable code for the EHR deep-learning book.

Modules are named for what they hold: data generation (`icu_synth`, `stroke_synth`), readers
(`readers`, `stroke_schema`), cohort building and encodings (`stroke_cohort`, `stroke_encoding`),
preprocessing, losses, models, calibration, metrics, baselines, plots, and the book's plumbing
(`profiles`, `io`, `book`, `cli`). Importing the package imports nothing heavy.
"""

__version__ = "0.1.0"
