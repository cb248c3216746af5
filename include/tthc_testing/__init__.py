"""Stand-ins for the outside world, for the tests, the demo and the benchmarks (never used in production):
a fake provincial portal (fake_portal) and a sample shared drive written by units (sample_share)."""
