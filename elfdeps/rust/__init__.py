"""The Rust stage (between binding and audit): crate roots from mangled names, Rust markers of each file,
what each loaded object holds and imports, and the problems of a loaded program (rust.md)."""
