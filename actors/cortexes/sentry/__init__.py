"""sentry: the CCTV of the seed. An unknown person in view raises one alert per
appearance to a webhook; the alert snapshots (and no other frame) are kept for some days."""

from actors.cortexes.sentry.cortex import Sentry

__all__ = ["Sentry"]
