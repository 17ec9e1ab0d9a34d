"""Sources: the sites and APIs profiles come from. A source is a folder."""
