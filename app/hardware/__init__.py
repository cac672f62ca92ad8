"""The Hardware page: this host's roofline, latency model and calibration."""
