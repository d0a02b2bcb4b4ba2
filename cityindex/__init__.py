"""cityindex: composite city index engine and audit."""
