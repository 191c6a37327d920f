"""Benchmarks. Each writes a markdown report under bench/results/ (see README, Benchmarks)."""
