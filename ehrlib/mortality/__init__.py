"""The in-hospital-mortality study: preprocessing, the focal loss, the LSTM, the baselines, the typed
results and the generated technical report. Reads ICU episodes through `ehrlib.icu`."""
