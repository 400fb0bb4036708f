"""The optimizer: exact fast paths, bound-based pruning, and an OR-Tools model for the rest."""
