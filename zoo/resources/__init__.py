"""Data files shipped with zoo (class names)."""
