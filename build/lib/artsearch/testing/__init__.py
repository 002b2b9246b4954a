"""What the tests, benchmarks and scripts build with; the product never imports it: a tiny CLIP made offline (clip_factory) and synthetic shape collections (synthetic)."""
