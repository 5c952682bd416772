"""The decision core: plain Python, no I/O. The servicer and the store do the I/O around it."""
