"""Metering: the request guard (admission + rate limits), quotas and usage."""
