"""The synthetic ICU cohort's default size, split and mortality: the one definition, used by the
generator (`ehrlib.icu.synth.IcuConfig`) and by the book's full profile (`ehrlib.profiles`).

The sizes are the source document's (24,327 episodes: 16,972 train, 3,740 validation, 3,615 test)
and its mortality 20.8 %. This module imports nothing, so `ehrlib.profiles` stays light.
"""

DEFAULT_EPISODES: int = 24_327
DEFAULT_SPLIT: tuple[int, int, int] = (16_972, 3_740, 3_615)
DEFAULT_MORTALITY: float = 0.208
