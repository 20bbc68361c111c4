"""dynaworld."""
