"""Scholar Feed (scholarfeed.org): author pages of arXiv papers."""
