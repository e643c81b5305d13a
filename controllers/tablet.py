"""JSON routes of the tablet session runner."""
