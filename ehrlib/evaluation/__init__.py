"""The evaluation core shared by both studies: metrics, bootstrap intervals, calibration, thresholds
and cross-validation. It knows no model and no study: callers pass labels, scores and fitters."""
