"""The graph model: neomodel classes are the one source of truth for labels, keys, constraints and edges."""
