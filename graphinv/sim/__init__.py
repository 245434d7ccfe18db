"""A deterministic simulated Gardener landscape served on 127.0.0.1 through the real wire protocols."""
