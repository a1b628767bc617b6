"""A small Flask app, bundled into one executable by apepy."""
