"""The bundled demo shop: a synthetic manga catalog (the embedded default's fact source)."""
