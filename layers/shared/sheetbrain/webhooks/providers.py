"""Which provider's events are applied by what: the one map from a provider's name (the
inbox's ``provider`` column) to its applier. Receiving a delivery (``webhooks.clerk``,
``webhooks.stripe``) and retrying a failed one (the cleanup task) both look it up here.
A new provider: its applier, an entry here, its verifying route."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from sheetbrain.billing.stripe_sync import apply_stripe_event
from sheetbrain.tenancy.clerk_sync import apply_clerk_event
from sheetbrain.webhooks.inbox import Applier

CLERK: Final = "clerk"
STRIPE: Final = "stripe"
APPLIERS: Mapping[str, Applier] = {CLERK: apply_clerk_event, STRIPE: apply_stripe_event}
