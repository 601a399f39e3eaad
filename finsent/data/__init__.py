"""Data: labels from the next price move, quality flags, and frozen leakage-free dataset snapshots."""
