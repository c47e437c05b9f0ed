"""Billing: plans and prices, Stripe checkout/portal, subscription sync, the billing view."""
