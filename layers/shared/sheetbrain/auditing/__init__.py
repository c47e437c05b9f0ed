"""Auditing: running the engine for a caller, citing policies, the AI review, the audit log."""
