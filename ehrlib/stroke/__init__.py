"""The stroke study (Teoh 2018): the synthetic hospital EHR, the case-control cohort, the paper's
encodings, the ICD-10 vocabulary and autoencoder, the networks and their figures."""
