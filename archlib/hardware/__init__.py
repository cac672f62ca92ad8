"""This host: identity and the one-at-a-time lock, measurement, power, profiles, the results store."""
