"""The audit as a self-contained HTML page: the audited grid's layout (stored with the audit)
and the report rendered from it and the findings. No engine import: the report route loads
neither the parser nor the checks."""
