"""The test suite (tests/README.md): a package, so test modules import their helpers as tests.support."""
