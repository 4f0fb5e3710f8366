"""Project settings and which of them a person must trust before they take effect."""
