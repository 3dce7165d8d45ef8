"""API Lambda of the export service: signed routes to presign uploads, start exports and poll them."""
