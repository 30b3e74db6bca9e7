"""Developer tools that are neither part of the hub nor of its test suite."""
