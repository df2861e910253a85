"""The dependency graph of one or more emulated starts: queries, the tree, the picture, the chains.

``tree`` indexes a load's edges, answers reachability (is B in A's own closure?) and builds the tree
that ``tree``'s text and JSON both render, all iteratively and linear in edges; ``model`` turns load
results, audit findings and Rust facts into nodes and edges; ``rust_stage``
takes the Rust facts (kinds, duplicated crates) from the Rust stage (elfdeps/rust/); ``views`` cuts the
graph (--focus, --max-depth, --collapse-system, with networkx); ``chains`` enumerates the DT_NEEDED
chains ``elfdeps why`` prints; ``pattern`` is how a LIB argument matches an object.
"""
