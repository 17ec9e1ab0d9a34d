"""The jobs: plan profiles, fetch and extract them, write batches (worker processes), keep the run's books."""
