"""Git objects underneath the state ref: reading, packing, trees, the lock, libgit2 and
maintenance."""
