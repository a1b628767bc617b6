"""Two small commands sharing one bundle."""
