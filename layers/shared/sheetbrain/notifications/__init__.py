"""Usage-threshold notifications: recorded once per period in the caller's transaction,
delivered afterwards as EventBridge events."""

from sheetbrain.notifications.thresholds import deliver_pending, record_crossings

__all__ = ["deliver_pending", "record_crossings"]
