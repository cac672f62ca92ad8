"""This host's latency model: what calibration measures (calplan, calnets), how it is timed
(microbench), the per-op model (latmodel), fitting and storing it (calibrate) and predicting any
analysis with it (predict)."""
