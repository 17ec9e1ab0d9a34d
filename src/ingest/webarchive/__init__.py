"""Web archives: where the past of a profile page is kept. `cdx` reads the Wayback Machine's capture index."""
