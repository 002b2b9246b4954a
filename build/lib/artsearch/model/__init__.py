"""The CLIP model: loading it (encoder), its faster inference paths (backends) and their ONNX exports (export)."""
