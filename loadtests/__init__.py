"""Locust scenarios and the benchmark harness for the agent registry."""
