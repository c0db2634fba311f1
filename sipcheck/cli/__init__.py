"""Command-line edge: each module registers one sub-command group and does its I/O there."""
