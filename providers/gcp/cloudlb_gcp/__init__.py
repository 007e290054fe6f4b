"""cloudlb provider plugin."""
