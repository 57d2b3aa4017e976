"""Traces, metrics and health endpoints shared by every process."""
