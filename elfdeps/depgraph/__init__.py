"""The dependency graph of one or more emulated starts, as a picture and as chains (issue 7).

``model`` turns load results, audit findings and Rust facts into nodes and edges; ``rust_standin``
decides the Rust facts cheaply until the Rust stage (elfdeps/rust/) provides them; ``views`` cuts the
graph (--focus, --max-depth, --collapse-system, with networkx); ``chains`` enumerates the DT_NEEDED
chains ``elfdeps why`` prints; ``pattern`` is how a LIB argument matches an object.
"""
