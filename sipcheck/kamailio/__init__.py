"""Kamailio as a screening edge: the view it reads, the script that reads it, the daemon that loads it."""
