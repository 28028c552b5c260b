"""Folium map builders: analysis frames in, folium maps out (no database access here)."""
