"""Verified webhooks from Clerk and Stripe, through one durable inbox."""
