"""Pipeline adapters behind one interface (`mimic.core.bundles.Generator`): the warp-only
renderer (no network) and adapters that run a loaded network of `mimic.networks` on the
pipeline's bundles. Loading them by name is `mimic.registry`'s."""
