"""Scheduled maintenance tasks run by the cleanup function."""
