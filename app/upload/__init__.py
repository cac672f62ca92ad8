"""The upload page: bring your own model (an ONNX file)."""
