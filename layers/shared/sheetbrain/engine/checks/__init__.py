"""The check catalogue and the checks themselves (formula-level and sheet-level)."""
