"""G City demo data: raw deliveries that look and misbehave like the real ones, plus
the hidden truth that lets every method be checked. Entry point: ``generate.generate``."""
