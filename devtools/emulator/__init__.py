"""A local, Nanonets-compatible server for the demo, the tests, the bench and the soak (docs/EMULATOR.md)."""
