"""Case generation: audio recipes, domain values, hypothesis strategies, the run plan, shrinking."""
