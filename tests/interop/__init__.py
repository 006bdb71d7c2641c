"""Interop tests against real peers (Debian's olad, tshark) in a private network namespace."""
