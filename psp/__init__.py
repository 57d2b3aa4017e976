"""The payment provider: our client for it, and a simulator that stands in for it locally."""
