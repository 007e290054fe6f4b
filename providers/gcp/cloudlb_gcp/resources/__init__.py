"""One module per GCE resource type: build the desired resource, diff it against what exists, converge it."""
