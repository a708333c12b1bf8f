"""Stand-ins for outside systems, run as real HTTP servers speaking the real protocols."""
