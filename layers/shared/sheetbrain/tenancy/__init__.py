"""Tenancy: who is calling, in which organization, with which role."""
