"""Live watches of the Gardener side: list, then watch, events into the graph through the ingest engine.

- `graphinv.watch.stream.ResourceWatch`: one resource (list + watch + batched apply + freshness);
- `graphinv.watch.gardener.GardenerWatches`: the garden's kinds and every seed's Machines;
- `graphinv.watch.refresh`: targeted cloud re-reads when a Machine appears, goes or changes providerID;
- `graphinv.watch.settings.WatchSettings`: the `watch:` config section.
"""
