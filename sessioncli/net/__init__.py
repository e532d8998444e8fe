"""Client-side network I/O: transport, node pool, swarms, onion paths."""
