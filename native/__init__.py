"""Native code behind small Python façades: Cython kernels (this folder) and the Rust crates."""
